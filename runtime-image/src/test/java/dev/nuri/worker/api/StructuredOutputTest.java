package dev.nuri.worker.api;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code response_format} on the builtin model (random weights, sampled at temperature 1): every output of every
 * schema in src/test/resources/structured/schemas parses and validates against its schema with networknt's
 * validator, whether the model ends it or max_tokens does.
 */
class StructuredOutputTest {
    static final Path CORPUS = Path.of("src/test/resources/structured/schemas");
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    static final JsonSchemaFactory VALIDATORS = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start();
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static Stream<Path> corpus() throws IOException {
        try (Stream<Path> files = Files.list(CORPUS)) {
            List<Path> all = files.filter(f -> f.toString().endsWith(".json")).sorted().toList();
            assertThat(all).hasSizeGreaterThanOrEqualTo(50);
            return all.stream();
        }
    }

    static JsonObject chat(JsonObject responseFormat, int maxTokens, long seed) {
        return new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "Fill in the form.")))
                .put("max_tokens", maxTokens).put("temperature", 1.0).put("seed", seed).put("n", 2).put("response_format", responseFormat);
    }

    static JsonObject schemaFormat(JsonObject schema) {
        return new JsonObject().put("type", "json_schema")
                .put("json_schema", new JsonObject().put("name", "form").put("strict", true).put("schema", schema));
    }

    static void assertValid(String output, String schemaText, String what) throws IOException {
        JsonNode value;
        try {
            value = JSON.readTree(output);
        } catch (IOException e) {
            throw new AssertionError(what + ": not JSON: " + output, e);
        }
        JsonSchema validator = VALIDATORS.getSchema(schemaText);
        Set<ValidationMessage> errors = validator.validate(value);
        assertThat(errors).as(what + ": " + output).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void everyOutputValidates(Path file) throws IOException {
        String schemaText = Files.readString(file);
        JsonObject schema = new JsonObject(schemaText);
        for (long seed : new long[] {1, 2}) {
            Http.Response r = http.post("/v1/chat/completions", chat(schemaFormat(schema), 160, seed));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            for (Object c : r.json().getJsonArray("choices")) {
                JsonObject choice = (JsonObject) c;
                if (seed == 1 && choice.getInteger("index") == 0) {
                    System.out.println(file.getFileName() + " -> " + choice.getJsonObject("message").getString("content"));
                }
                assertValid(choice.getJsonObject("message").getString("content"), schemaText,
                        file.getFileName() + " seed " + seed + " (" + choice.getString("finish_reason") + ")");
            }
        }
    }

    @Test
    void aTokenBudgetOfTheShortestOutputStillEndsValid() throws IOException {
        String schemaText = Files.readString(CORPUS.resolve("26-write-document.json"));
        JsonObject format = schemaFormat(new JsonObject(schemaText));
        Http.Response tooFew = http.post("/v1/chat/completions", chat(format, 5, 1));
        assertThat(tooFew.status()).isEqualTo(400);
        assertThat(tooFew.json().getJsonObject("error").getString("param")).isEqualTo("max_tokens");
        int shortest = Integer.parseInt(tooFew.json().getJsonObject("error").getString("message").replaceAll("\\D+", " ").trim().split(" ")[0]);
        for (long seed = 1; seed <= 4; seed++) {
            Http.Response r = http.post("/v1/chat/completions", chat(format, shortest, seed));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            for (Object c : r.json().getJsonArray("choices")) {
                assertValid(((JsonObject) c).getJsonObject("message").getString("content"), schemaText, "budget " + shortest);
            }
        }
    }

    @Test
    void jsonObjectGivesAnObjectOnCompletionsToo() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", "JSON:").put("max_tokens", 60).put("temperature", 1.0)
                    .put("seed", seed).put("response_format", new JsonObject().put("type", "json_object")));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            String text = r.json().getJsonArray("choices").getJsonObject(0).getString("text");
            assertThat(JSON.readTree(text).isObject()).as(text).isTrue();
        }
    }

    @Test
    void unsupportedKeywordsAreNamed() {
        JsonObject schema = new JsonObject().put("type", "object")
                .put("properties", new JsonObject().put("email", new JsonObject().put("type", "string").put("pattern", "^.+@.+$"))
                        .put("kind", new JsonObject().put("oneOf", new JsonArray().add(new JsonObject().put("type", "string")))))
                .put("required", new JsonArray().add("email"));
        Http.Response r = http.post("/v1/chat/completions", chat(schemaFormat(schema), 50, 1));
        assertThat(r.status()).isEqualTo(400);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("param")).isEqualTo("response_format.json_schema.schema");
        assertThat(error.getString("type")).isEqualTo("invalid_request_error");
        assertThat(error.getString("message")).contains("#/properties/email: 'pattern'", "#/properties/kind: 'oneOf'");

        JsonObject recursive = new JsonObject().put("$defs", new JsonObject().put("node", new JsonObject().put("type", "object")
                .put("properties", new JsonObject().put("next", new JsonObject().put("$ref", "#/$defs/node")))))
                .put("$ref", "#/$defs/node");
        Http.Response rec = http.post("/v1/chat/completions", chat(schemaFormat(recursive), 50, 1));
        assertThat(rec.status()).isEqualTo(400);
        assertThat(rec.json().getJsonObject("error").getString("message")).contains("recursive");

        Http.Response unknown = http.post("/v1/chat/completions", chat(new JsonObject().put("type", "yaml"), 50, 1));
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.json().getJsonObject("error").getString("param")).isEqualTo("response_format.type");
    }
}
