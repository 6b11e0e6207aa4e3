package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import dev.nuri.worker.support.RawHttp;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Requests an attacker would send: template code in messages, huge prompts, bodies that are not JSON, bad URLs. */
class HostileInputTest {
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        // a body limit above 4 MB, so that a 4 MB prompt reaches the prompt checks
        shard = InProcessShard.start("--max-body-bytes", Integer.toString(8 << 20));
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    /** What the chat template made of one user message, as /tokenize sees it, decoded back to text. */
    static String renderedPrompt(String content) {
        Http.Response r = http.post("/tokenize", new JsonObject()
                .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", content))));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        Http.Response text = http.post("/detokenize", new JsonObject().put("tokens", r.json().getJsonArray("tokens")));
        return text.json().getString("prompt");
    }

    @Test
    void templateExpressionsInMessageContentStayLiteral() {
        assertThat(renderedPrompt("{{ 7*7 }}")).contains("{{ 7*7 }}").doesNotContain("49");
    }

    @Test
    void anIncludeInMessageContentDoesNotPasteAFile() {
        String prompt = renderedPrompt("{% include 'META-INF/MANIFEST.MF' %}");
        assertThat(prompt).contains("{% include 'META-INF/MANIFEST.MF' %}").doesNotContain("Manifest-Version");
    }

    @Test
    void nestedLoopsInMessageContentAreTextAndDoNotBlockTheShard() {
        // like the 181-byte body of the report: three nested loops over range(1000)
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"{% for a in range(1000) %}{% for b in range(1000) %}"
                + "{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}\"}]}";
        assertThat(body.length()).isLessThan(200);
        CompletableFuture<Http.Response> tokenized = CompletableFuture.supplyAsync(() -> http.post("/tokenize", body));
        List<Duration> probes = new ArrayList<>();
        for (int i = 0; i < 4; i++) probes.add(RawHttp.timeLiveness(shard.http.uri("/").getPort(), Duration.ofSeconds(3)));
        assertThat(probes).allSatisfy(d -> assertThat(d).isLessThan(Duration.ofSeconds(3)));
        Http.Response r = tokenized.join();
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().getInteger("count")).isLessThan(200); // the loops are text, not 10^9 x's
    }

    @Test
    void aFourMegabytePromptIsRefusedByLengthWithoutStallingTheShard() {
        String prompt = "hello world ".repeat((4 << 20) / 12);
        int port = shard.http.uri("/").getPort();
        List<CompletableFuture<Http.Response>> big = new ArrayList<>();
        for (int i = 0; i < 4; i++) { // more than there are event loops
            big.add(CompletableFuture.supplyAsync(() -> http.post("/v1/completions",
                    new JsonObject().put("prompt", prompt).put("max_tokens", 1))));
        }
        List<Duration> probes = new ArrayList<>();
        while (!big.stream().allMatch(CompletableFuture::isDone) || probes.size() < 4) {
            probes.add(RawHttp.timeLiveness(port, Duration.ofSeconds(3)));
        }
        assertThat(probes).allSatisfy(d -> assertThat(d).isLessThan(Duration.ofSeconds(3)));
        for (CompletableFuture<Http.Response> f : big) {
            Http.Response r = f.join();
            assertThat(r.status()).as(r.body()).isEqualTo(400);
            JsonObject error = r.json().getJsonObject("error");
            assertThat(error.getString("code")).isEqualTo("context_length_exceeded");
            assertThat(error.getString("param")).isEqualTo("prompt");
            assertThat(error.getString("message")).contains("maximum context length is 1024 tokens");
        }
        Http.Response chat = http.post("/v1/chat/completions", new JsonObject()
                .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", prompt))));
        assertThat(chat.status()).as(chat.body()).isEqualTo(400);
        assertThat(chat.json().getJsonObject("error").getString("message")).contains("maximum context length is 1024 tokens");
    }

    @Test
    void anEmptyBodyIs400() {
        try (RawHttp c = RawHttp.connect(port())) {
            String reply = c.send(RawHttp.post("/v1/completions", "application/json", "")).readUntilClosed(Duration.ofSeconds(5));
            assertBadRequest(reply, "empty");
        }
    }

    @Test
    void aMultipartFormIs400() {
        String boundary = "----nuri";
        String form = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--" + boundary + "--\r\n";
        try (RawHttp c = RawHttp.connect(port())) {
            String reply = c.send(RawHttp.post("/v1/completions", "multipart/form-data; boundary=" + boundary, form))
                    .readUntilClosed(Duration.ofSeconds(5));
            assertBadRequest(reply, "JSON");
        }
    }

    @Test
    void aBadPercentEncodingIs400() {
        try (RawHttp c = RawHttp.connect(port())) {
            String reply = c.send("GET /v1/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").readUntilClosed(Duration.ofSeconds(5));
            assertBadRequest(reply, "%zz");
        }
    }

    private static int port() {
        return shard.http.uri("/").getPort();
    }

    private static void assertBadRequest(String reply, String messageFragment) {
        assertThat(reply).startsWith("HTTP/1.1 400");
        JsonObject error = new JsonObject(reply.substring(reply.indexOf("\r\n\r\n") + 4).trim()).getJsonObject("error");
        assertThat(error.getString("type")).isEqualTo("invalid_request_error");
        assertThat(error.getString("message")).contains(messageFragment);
    }
}
