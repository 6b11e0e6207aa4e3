package dev.nuri.worker.tokenizer;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Encodings and decodings agree with Python {@code tokenizers} on Korean and English text (fixtures written by
 * src/test/python/make_fixtures.py), for the builtin tokenizer and a Qwen-style one (NFC, regex split, merges).
 */
class ModelTokenizerTest {
    @ParameterizedTest
    @ValueSource(strings = {"builtin", "qwen-style"})
    void matchesPythonTokenizers(String name) throws IOException {
        JsonArray cases = fixture("tokenizer-expected.json").getJsonArray(name);
        try (ModelTokenizer tokenizer = open(name)) {
            for (Object o : cases) {
                JsonObject c = (JsonObject) o;
                int[] expected = c.getJsonArray("ids").stream().mapToInt(i -> ((Number) i).intValue()).toArray();
                String text = c.getString("text");
                assertThat(tokenizer.encode(text, false)).as("ids of %s", text).containsExactly(expected);
                assertThat(tokenizer.decode(expected, false)).as("decode of %s", text).isEqualTo(c.getString("decoded"));
                assertThat(tokenizer.decode(expected, true)).isEqualTo(c.getString("decoded_skip_special"));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"builtin", "qwen-style"})
    void streamedPiecesConcatenateToTheFullDecode(String name) throws IOException {
        try (ModelTokenizer tokenizer = open(name)) {
            String text = "한국어와 English가 섞인 문장 🙂";
            int[] ids = tokenizer.encode(text, false);
            IncrementalText stream = new IncrementalText(tokenizer, true);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = stream.next(id);
                assertThat(piece).doesNotContain("\uFFFD");
                sb.append(piece);
            }
            assertThat(sb.append(stream.flush()).toString()).isEqualTo(text);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"builtin"})
    void builtinSpecialTokensSitWhereTheBuiltinModelExpectsThem(String name) throws IOException {
        try (ModelTokenizer tokenizer = open(name)) {
            assertThat(tokenizer.size()).isEqualTo(512);
            assertThat(tokenizer.specialId("<|begin_of_text|>")).isEqualTo(1); // tiny-axk1 bos_token_id
            assertThat(tokenizer.specialId("<|end_of_text|>")).isEqualTo(2);   // tiny-axk1 eos_token_id
            assertThat(tokenizer.specialId(tokenizer.eosToken())).isEqualTo(4);
            assertThat(tokenizer.isSpecial(4)).isTrue();
            assertThat(tokenizer.encode("<|im_start|>user", false)[0]).isEqualTo(3);
        }
    }

    static ModelTokenizer open(String name) throws IOException {
        if (name.equals("builtin")) return ModelTokenizer.builtin("tiny-axk1");
        Path dir = Files.createTempDirectory("tok");
        try (InputStream in = ModelTokenizerTest.class.getResourceAsStream("/fixtures/" + name + ".tokenizer.json")) {
            Files.write(dir.resolve("tokenizer.json"), in.readAllBytes());
        }
        return ModelTokenizer.load(dir);
    }

    static JsonObject fixture(String file) throws IOException {
        try (InputStream in = ModelTokenizerTest.class.getResourceAsStream("/fixtures/" + file)) {
            return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }
}
