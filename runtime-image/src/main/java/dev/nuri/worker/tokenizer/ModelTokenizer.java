package dev.nuri.worker.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's Hugging Face tokenizer ({@code tokenizer.json} + {@code tokenizer_config.json}). Encoding runs in the
 * Rust {@code tokenizers} library through DJL, with truncation and padding off. Decoding goes through a table of
 * each token's bytes, built from the same file, so streamed text and logprob tokens agree byte for byte with a full
 * decode.
 */
public final class ModelTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer encoder;
    private final TokenBytes tokenBytes;
    private final String chatTemplate;
    private final String bosToken;
    private final String eosToken;
    private final int longestTokenBytes;

    private ModelTokenizer(byte[] tokenizerJson, JsonObject config) throws IOException {
        this.encoder = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), Map.of(
                "addSpecialTokens", "false", "truncation", "false", "padding", "false", "maxLength", "-1"));
        this.tokenBytes = TokenBytes.from(new JsonObject(new String(tokenizerJson, StandardCharsets.UTF_8)));
        this.chatTemplate = templateOf(config);
        this.bosToken = tokenText(config.getValue("bos_token"));
        this.eosToken = tokenText(config.getValue("eos_token"));
        this.longestTokenBytes = tokenBytes.longestToken();
    }

    /** Loads {@code tokenizer.json} and {@code tokenizer_config.json} from a model directory. */
    public static ModelTokenizer load(Path dir) {
        try {
            Path config = dir.resolve("tokenizer_config.json");
            return new ModelTokenizer(Files.readAllBytes(dir.resolve("tokenizer.json")),
                    Files.exists(config) ? new JsonObject(Files.readString(config)) : new JsonObject());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The tokenizer shipped for a builtin model (see runtime-image/README.md). */
    public static ModelTokenizer builtin(String name) {
        String base = "/dev/nuri/worker/builtin/" + name + "/";
        try (InputStream json = ModelTokenizer.class.getResourceAsStream(base + "tokenizer.json");
             InputStream config = ModelTokenizer.class.getResourceAsStream(base + "tokenizer_config.json")) {
            if (json == null || config == null) {
                // variants of tiny-axk1 with other weights or context (-8k, -skewed) share its tokenizer
                if (name.startsWith("tiny-axk1-")) return builtin("tiny-axk1");
                throw new IllegalArgumentException("no tokenizer is shipped for builtin model '" + name + "'");
            }
            return new ModelTokenizer(json.readAllBytes(), new JsonObject(new String(config.readAllBytes(), StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String templateOf(JsonObject config) {
        Object t = config.getValue("chat_template");
        if (t instanceof String s) return s;
        if (t instanceof JsonArray named) { // [{"name": "default", "template": "..."}, ...]
            for (Object o : named) {
                if (o instanceof JsonObject n && "default".equals(n.getString("name"))) return n.getString("template");
            }
        }
        return null;
    }

    private static String tokenText(Object token) {
        if (token instanceof String s) return s;
        if (token instanceof JsonObject o) return o.getString("content");
        return null;
    }

    /** Token ids of a text; {@code addSpecialTokens} applies the tokenizer's post-processor (e.g. a BOS). */
    public int[] encode(String text, boolean addSpecialTokens) {
        if (text.isEmpty()) return new int[0];
        long[] ids = encoder.encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        IncrementalText text = new IncrementalText(this, skipSpecialTokens);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(text.next(id));
        return sb.append(text.flush()).toString();
    }

    /** The bytes a token stands for (a special token's content in UTF-8). */
    public byte[] bytes(int id) {
        return tokenBytes.bytes(id);
    }

    /** One token as text on its own, for logprobs; bytes that are not valid UTF-8 alone read as U+FFFD. */
    public String tokenString(int id) {
        return new String(bytes(id), StandardCharsets.UTF_8);
    }

    public boolean isSpecial(int id) {
        return tokenBytes.isSpecial(id);
    }

    public boolean isValidId(int id) {
        return tokenBytes.contains(id);
    }

    public int size() {
        return tokenBytes.size();
    }

    /** The most bytes one token of this vocabulary stands for (special tokens included). */
    public int longestTokenBytes() {
        return longestTokenBytes;
    }

    public String chatTemplate() {
        return chatTemplate;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** The id of a special token's text, or -1. */
    public int specialId(String content) {
        return content == null ? -1 : tokenBytes.specialId(content);
    }

    @Override
    public void close() {
        encoder.close();
    }
}
