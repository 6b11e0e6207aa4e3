package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import dev.nuri.worker.support.RawHttp;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bodies built to hurt the parser or the limits (issue 18 item 2): deep nesting, invalid UTF-8, prompts at and past
 * the context length, thousands of stop strings, n and max_tokens at and past their bounds. Each is refused with an
 * OpenAI error naming the field, or served when it is within the limits; never a 5xx.
 */
class HostileBodiesTest {
    static final int CONTEXT = 32;
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        // a first chat-template render took over the 2 s default on a machine at load 27: this test is not about that limit
        shard = InProcessShard.start("--context-length", Integer.toString(CONTEXT), "--chat-template-timeout-ms", "20000");
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonObject assertError(Http.Response r, int status, String param, String messageFragment) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.fieldNames()).contains("message", "type", "param", "code");
        assertThat(error.getString("param")).isEqualTo(param);
        assertThat(error.getString("message")).contains(messageFragment);
        return error;
    }

    @Test
    void jsonNestedAHundredThousandDeepIsRefusedAndTheShardServesOn() {
        int depth = 100_000;
        String arrays = "{\"prompt\":" + "[".repeat(depth) + "]".repeat(depth) + ",\"max_tokens\":1}";
        assertError(http.post("/v1/completions", arrays), 400, null, "not valid JSON");
        String objects = "{\"prompt\":\"x\",\"stream_options\":" + "{\"a\":".repeat(depth) + "1" + "}".repeat(depth) + "}";
        assertError(http.post("/v1/completions", objects), 400, null, "not valid JSON");
        assertThat(http.post("/v1/completions", "{\"prompt\":\"still here\",\"max_tokens\":1}").status()).isEqualTo(200);
    }

    @Test
    void invalidUtf8IsRefused() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write("{\"prompt\":\"".getBytes(StandardCharsets.US_ASCII));
        body.write(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, 0x28}); // no UTF-8 sequence starts or continues so
        body.write("\",\"max_tokens\":1}".getBytes(StandardCharsets.US_ASCII));
        try (RawHttp c = RawHttp.connect(shard.http.uri("/").getPort())) {
            String head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.size() + "\r\nConnection: close\r\n\r\n";
            c.socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            c.socket.getOutputStream().write(body.toByteArray());
            String reply = c.readUntilClosed(Duration.ofSeconds(10));
            assertThat(reply).startsWith("HTTP/1.1 400");
            JsonObject error = new JsonObject(reply.substring(reply.indexOf("\r\n\r\n") + 4).trim()).getJsonObject("error");
            assertThat(error.getString("type")).isEqualTo("invalid_request_error");
            assertThat(error.getString("message")).contains("not valid JSON");
        }
    }

    static JsonArray ids(int count) {
        JsonArray a = new JsonArray();
        for (int i = 0; i < count; i++) a.add(10 + i % 400); // ids of the tiny model's 512
        return a;
    }

    @Test
    void aPromptOneTokenShortOfTheContextGetsOneTokenAndNoMore() {
        Http.Response ok = http.post("/v1/completions", new JsonObject().put("prompt", ids(CONTEXT - 1)).put("max_tokens", 1));
        assertThat(ok.status()).as(ok.body()).isEqualTo(200);
        assertThat(ok.json().getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(1);
        assertError(http.post("/v1/completions", new JsonObject().put("prompt", ids(CONTEXT - 1)).put("max_tokens", 2)),
                400, "max_tokens", "maximum context length is " + CONTEXT);
    }

    @ParameterizedTest(name = "{0} prompt tokens")
    @CsvSource({"32", "33", "1000"})
    void aPromptOfTheContextLengthOrMoreIsRefused(int tokens) {
        JsonObject error = assertError(http.post("/v1/completions", new JsonObject().put("prompt", ids(tokens))),
                400, "prompt", "maximum context length is " + CONTEXT);
        assertThat(error.getString("code")).isEqualTo("context_length_exceeded");
    }

    @Test
    void aTextPromptPastTheContextIsRefusedOnCompletionsAndChat() {
        String text = "word ".repeat(CONTEXT + 1);
        assertError(http.post("/v1/completions", new JsonObject().put("prompt", text)), 400, "prompt", "maximum context length");
        JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", text));
        assertError(http.post("/v1/chat/completions", new JsonObject().put("messages", messages)), 400, "messages",
                "maximum context length");
    }

    @Test
    void tenThousandStopStringsAreRefused() {
        JsonArray stops = new JsonArray();
        for (int i = 0; i < 10_000; i++) stops.add("stop" + i);
        assertError(http.post("/v1/completions", new JsonObject().put("prompt", "hi").put("stop", stops)), 400, "stop", "at most 16");
        JsonArray sixteen = new JsonArray();
        for (int i = 0; i < 16; i++) sixteen.add("stop" + i);
        assertThat(http.post("/v1/completions", new JsonObject().put("prompt", "hi").put("stop", sixteen).put("max_tokens", 2))
                .status()).isEqualTo(200);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"n, 0", "n, 17", "n, 2147483648", "n, -1", "max_tokens, 0", "max_tokens, -1", "max_tokens, 2147483647",
            "max_tokens, 1e300", "max_tokens, 31", "n, 1.5"})
    void nAndMaxTokensPastTheirBoundsAreRefusedNamingTheField(String field, String value) {
        // two prompt tokens: max_tokens 30 fills the context exactly, 31 is one past it
        String body = "{\"prompt\":[10,11],\"" + field + "\":" + value + "}";
        Http.Response r = http.post("/v1/completions", body);
        assertThat(r.status()).as(r.body()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("param")).isEqualTo(field);
    }

    @Test
    void nAndMaxTokensAtTheirBoundsAreServed() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", ids(2)).put("n", 16)
                .put("max_tokens", CONTEXT - 2).put("ignore_eos", true));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().getJsonArray("choices")).hasSize(16);
        assertThat(r.json().getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(16 * (CONTEXT - 2));
    }

    @Test
    void tokenizeWithBothPromptAndMessagesIsRefused() {
        // schemathesis' first find: the body matched both of /tokenize's forms and messages silently won
        JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"));
        assertError(http.post("/tokenize", new JsonObject().put("prompt", "hi").put("messages", messages)), 400, "prompt",
                "either 'prompt' or 'messages'");
    }

    @Test
    void tokenizeRefusesAFieldOfTheWrongTypeEvenWhenTheOtherFormDoesNotUseIt() {
        // schemathesis (CI, seed 18): a string add_generation_prompt beside a prompt was accepted with 200
        assertError(http.post("/tokenize", new JsonObject().put("prompt", "hi").put("add_generation_prompt", "yes")), 400,
                "add_generation_prompt", "must be a boolean");
        JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"));
        assertError(http.post("/tokenize", new JsonObject().put("messages", messages).put("add_special_tokens", 1)), 400,
                "add_special_tokens", "must be a boolean");
    }

    @Test
    void aFractionalTokenIdIsRefusedNotCutToAToken() {
        // schemathesis (deterministic mode): /detokenize read 0.5 as token 0 and answered 200
        assertError(http.post("/detokenize", "{\"tokens\":[10,0.5]}"), 400, "tokens", "tokens[1]");
        assertError(http.post("/detokenize", "{\"tokens\":[10,1e400]}"), 400, "tokens", "tokens[1]");
        assertError(http.post("/v1/completions", "{\"prompt\":[10,0.5],\"max_tokens\":1}"), 400, "prompt", "prompt[1]");
        assertThat(http.post("/detokenize", "{\"tokens\":[10,11]}").status()).isEqualTo(200);
    }

    @Test
    void aMessageNameThatIsNotAStringIsRefused() {
        // schemathesis' coverage phase: {"name": {}} in a message was dropped silently and the request answered 200
        JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi").put("name", new JsonObject()));
        assertError(http.post("/tokenize", new JsonObject().put("messages", messages)), 400, "messages[0].name", "must be a string");
        assertError(http.post("/v1/chat/completions", new JsonObject().put("messages", messages).put("max_tokens", 1)), 400,
                "messages[0].name", "must be a string");
        messages.getJsonObject(0).put("name", "ada");
        assertThat(http.post("/tokenize", new JsonObject().put("messages", messages)).status()).isEqualTo(200);
    }
}
