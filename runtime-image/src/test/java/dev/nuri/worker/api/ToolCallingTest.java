package dev.nuri.worker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calling on the builtin variant whose tokenizer and chat template carry tool tokens (tiny-axk1-tools). Its
 * weights are random, so it never calls a tool by itself: tool_choice required or named forces a call through
 * constrained decoding, in the syntax of the shard's --tool-call-parser, and the parser reads it back.
 */
class ToolCallingTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Map<String, InProcessShard> SHARDS = new LinkedHashMap<>();

    @BeforeAll
    static void start() {
        for (String parser : List.of("deepseek_v3", "hermes", "mistral")) {
            SHARDS.put(parser, InProcessShard.startModel("builtin:tiny-axk1-tools", "--tool-call-parser", parser));
        }
    }

    @AfterAll
    static void stop() {
        SHARDS.values().forEach(InProcessShard::close);
    }

    static Http http(String parser) {
        return SHARDS.get(parser).http;
    }

    static final JsonObject WEATHER_PARAMETERS = new JsonObject().put("type", "object")
            .put("properties", new JsonObject().put("city", new JsonObject().put("type", "string").put("minLength", 2).put("maxLength", 12))
                    .put("unit", new JsonObject().put("enum", new JsonArray().add("celsius").add("fahrenheit"))))
            .put("required", new JsonArray().add("city").add("unit")).put("additionalProperties", false);
    static final JsonObject EMAIL_PARAMETERS = new JsonObject().put("type", "object")
            .put("properties", new JsonObject().put("to", new JsonObject().put("type", "string").put("maxLength", 20))
                    .put("urgent", new JsonObject().put("type", "boolean")))
            .put("required", new JsonArray().add("to")).put("additionalProperties", false);

    static JsonArray tools() {
        return new JsonArray()
                .add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "get_weather")
                        .put("description", "Current weather in a city").put("parameters", WEATHER_PARAMETERS.copy())))
                .add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "send_email")
                        .put("description", "Send an email").put("parameters", EMAIL_PARAMETERS.copy())));
    }

    static JsonObject request(Object toolChoice) {
        return new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "Weather in Seoul?")))
                .put("tools", tools()).put("tool_choice", toolChoice).put("max_tokens", 300).put("temperature", 1.0).put("seed", 3);
    }

    static JsonObject named(String name) {
        return new JsonObject().put("type", "function").put("function", new JsonObject().put("name", name));
    }

    static void assertArgumentsValid(String name, String arguments) throws Exception {
        JsonObject schema = name.equals("get_weather") ? WEATHER_PARAMETERS : EMAIL_PARAMETERS;
        var errors = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema.encode()).validate(JSON.readTree(arguments));
        assertThat(errors).as(name + " " + arguments).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"deepseek_v3", "hermes", "mistral"})
    void aNamedToolIsCalledWithValidArguments(String parser) throws Exception {
        Http.Response r = http(parser).post("/v1/chat/completions", request(named("get_weather")));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("finish_reason")).isEqualTo("tool_calls");
        JsonObject message = choice.getJsonObject("message");
        assertThat(message.getValue("content")).isNull();
        JsonArray calls = message.getJsonArray("tool_calls");
        assertThat(calls).hasSize(1);
        JsonObject call = calls.getJsonObject(0);
        assertThat(call.getString("id")).startsWith("call_");
        assertThat(call.getString("type")).isEqualTo("function");
        assertThat(call.getJsonObject("function").getString("name")).isEqualTo("get_weather");
        assertArgumentsValid("get_weather", call.getJsonObject("function").getString("arguments"));
    }

    @Test
    void requiredCallsOneOfTheTools() throws Exception {
        List<String> names = new ArrayList<>();
        for (long seed = 1; seed <= 6; seed++) {
            Http.Response r = http("deepseek_v3").post("/v1/chat/completions", request("required").put("seed", seed));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            JsonObject call = r.json().getJsonArray("choices").getJsonObject(0).getJsonObject("message").getJsonArray("tool_calls").getJsonObject(0);
            String name = call.getJsonObject("function").getString("name");
            assertArgumentsValid(name, call.getJsonObject("function").getString("arguments"));
            names.add(name);
        }
        assertThat(names).allMatch(n -> n.equals("get_weather") || n.equals("send_email"));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"deepseek_v3", "hermes", "mistral"})
    void streamedCallsArriveAsToolCallDeltas(String parser) throws Exception {
        Http.Response r = http(parser).post("/v1/chat/completions", request(named("send_email")).put("stream", true));
        assertThat(r.status()).isEqualTo(200);
        List<JsonObject> deltas = new ArrayList<>();
        String finish = null;
        for (String event : r.events()) {
            if (event.equals("[DONE]")) continue;
            JsonObject choice = new JsonObject(event).getJsonArray("choices").getJsonObject(0);
            deltas.add(choice.getJsonObject("delta"));
            if (choice.getString("finish_reason") != null) finish = choice.getString("finish_reason");
        }
        assertThat(finish).isEqualTo("tool_calls");
        List<JsonObject> calls = deltas.stream().filter(d -> d.containsKey("tool_calls"))
                .flatMap(d -> d.getJsonArray("tool_calls").stream().map(JsonObject.class::cast)).toList();
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0).getInteger("index")).isZero();
        assertThat(calls.get(0).getJsonObject("function").getString("name")).isEqualTo("send_email");
        assertArgumentsValid("send_email", calls.get(0).getJsonObject("function").getString("arguments"));
        // no marker text leaks into content
        String content = deltas.stream().map(d -> d.getString("content", "")).reduce("", String::concat);
        assertThat(content).isEmpty();
        assertThat(r.events()).last().isEqualTo("[DONE]");
    }

    @Test
    void aToolResultRoundTripsThroughTheTemplate() {
        Http.Response call = http("deepseek_v3").post("/v1/chat/completions", request(named("get_weather")));
        JsonObject assistant = call.json().getJsonArray("choices").getJsonObject(0).getJsonObject("message");
        String id = assistant.getJsonArray("tool_calls").getJsonObject(0).getString("id");
        JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", "Weather in Seoul?"))
                .add(assistant)
                .add(new JsonObject().put("role", "tool").put("tool_call_id", id).put("content", "{\"temp\": 3}"));
        Http.Response answer = http("deepseek_v3").post("/v1/chat/completions", new JsonObject().put("messages", messages)
                .put("tools", tools()).put("max_tokens", 8).put("temperature", 0));
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        JsonObject choice = answer.json().getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getJsonObject("message").getString("role")).isEqualTo("assistant");
        assertThat(choice.getString("finish_reason")).isIn("stop", "length");
        // the earlier call and the tool's answer are in the prompt, as the template renders them
        int withHistory = answer.json().getJsonObject("usage").getInteger("prompt_tokens");
        int without = http("deepseek_v3").post("/v1/chat/completions", new JsonObject().put("messages", new JsonArray().add(messages.getValue(0)))
                .put("tools", tools()).put("max_tokens", 1)).json().getJsonObject("usage").getInteger("prompt_tokens");
        assertThat(withHistory).isGreaterThan(without + 10);
    }

    @Test
    void badToolRequestsAreRefused() {
        Http h = http("deepseek_v3");
        Http.Response unknown = h.post("/v1/chat/completions", request(named("book_flight")));
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.json().getJsonObject("error").getString("param")).isEqualTo("tool_choice");
        JsonObject badName = request("auto");
        badName.getJsonArray("tools").getJsonObject(0).getJsonObject("function").put("name", "get weather!");
        Http.Response r = h.post("/v1/chat/completions", badName);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("param")).isEqualTo("tools[0].function.name");
        JsonObject noId = request("auto");
        noId.getJsonArray("messages").add(new JsonObject().put("role", "tool").put("content", "42"));
        Http.Response missing = h.post("/v1/chat/completions", noId);
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.json().getJsonObject("error").getString("param")).isEqualTo("messages[1].tool_call_id");
        JsonObject unsupported = request("required");
        unsupported.getJsonArray("tools").getJsonObject(0).getJsonObject("function").getJsonObject("parameters")
                .getJsonObject("properties").getJsonObject("city").put("pattern", "^[A-Z]");
        Http.Response refused = h.post("/v1/chat/completions", unsupported);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.json().getJsonObject("error").getString("message")).contains("'pattern'");
    }

    @Test
    void autoWithARandomModelAnswersInText() {
        Http.Response r = http("hermes").post("/v1/chat/completions", request("auto").put("max_tokens", 16));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("finish_reason")).isIn("stop", "length");
        assertThat(choice.getJsonObject("message").getValue("tool_calls")).isNull();
    }
}
