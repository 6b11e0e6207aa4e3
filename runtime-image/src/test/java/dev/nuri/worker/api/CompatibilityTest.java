package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** What real clients rely on: prompt logprobs with echo (lm-eval-harness), models.retrieve, HEAD, CORS as configured. */
class CompatibilityTest {
    static final String APP = "https://app.example";
    static InProcessShard shard;
    static InProcessShard browserShard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start();
        http = shard.http;
        browserShard = InProcessShard.start("--cors-allowed-origins", APP, "--api-key", "k");
    }

    @AfterAll
    static void stop() {
        shard.close();
        browserShard.close();
    }

    static JsonObject score(JsonArray prompt, int maxTokens) {
        return new JsonObject().put("prompt", prompt).put("max_tokens", maxTokens).put("echo", true).put("logprobs", 1).put("temperature", 0);
    }

    @Test
    void echoWithLogprobsScoresThePromptAsGenerationWould() {
        // a prefix whose greedy next token is whole text (not a lone byte), so that /tokenize gives back its id
        JsonArray prefix = null;
        JsonObject next = null;
        int nextId = -1;
        for (int k = 0; k < 50 && nextId < 0; k++) {
            prefix = new JsonArray().add(1).add(300 + k).add(301 + k).add(302 + k);
            next = http.post("/v1/completions", new JsonObject().put("prompt", prefix).put("max_tokens", 1).put("temperature", 0)
                    .put("logprobs", 0).put("ignore_eos", true)).json().getJsonArray("choices").getJsonObject(0);
            String text = next.getString("text");
            JsonArray ids = http.post("/tokenize", new JsonObject().put("prompt", text).put("add_special_tokens", false))
                    .json().getJsonArray("tokens");
            if (!text.isEmpty() && !text.contains("\uFFFD") && ids.size() == 1) nextId = ids.getInteger(0);
        }
        assertThat(nextId).as("a prefix with a whole-text next token").isNotNegative();
        double nextLogprob = next.getJsonObject("logprobs").getJsonArray("token_logprobs").getDouble(0);

        JsonArray prompt = prefix.copy().add(nextId);
        Http.Response r = http.post("/v1/completions", score(prompt, 1));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject logprobs = r.json().getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs");
        JsonArray tokenLogprobs = logprobs.getJsonArray("token_logprobs");
        assertThat(tokenLogprobs.size()).isEqualTo(prompt.size() + 1); // the prompt, then one generated token
        assertThat(tokenLogprobs.getValue(0)).isNull(); // the first token has nothing before it
        assertThat(logprobs.getJsonArray("top_logprobs").getValue(0)).isNull();
        for (int i = 1; i < tokenLogprobs.size(); i++) assertThat(tokenLogprobs.getDouble(i)).isLessThanOrEqualTo(0.0);
        assertThat(tokenLogprobs.getDouble(prompt.size() - 1)).isCloseTo(nextLogprob, within(1e-4));
        assertThat(logprobs.getJsonArray("tokens").getString(prompt.size() - 1)).isEqualTo(next.getString("text"));
        assertThat(logprobs.getJsonArray("text_offset").getInteger(1)).isEqualTo(logprobs.getJsonArray("tokens").getString(0).length());
    }

    @Test
    void maxTokensZeroWithEchoScoresWithoutGenerating() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", "Hello world").put("max_tokens", 0)
                .put("echo", true).put("logprobs", 0));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("text")).isEqualTo("Hello world");
        assertThat(choice.getString("finish_reason")).isEqualTo("length");
        int promptTokens = r.json().getJsonObject("usage").getInteger("prompt_tokens");
        assertThat(r.json().getJsonObject("usage").getInteger("completion_tokens")).isZero();
        assertThat(choice.getJsonObject("logprobs").getJsonArray("token_logprobs").size()).isEqualTo(promptTokens);

        Http.Response streamed = http.post("/v1/completions", new JsonObject().put("prompt", "Hello world").put("max_tokens", 0)
                .put("echo", true).put("logprobs", 0).put("stream", true).encode());
        JsonObject first = new JsonObject(streamed.events().get(0)).getJsonArray("choices").getJsonObject(0);
        assertThat(first.getString("text")).isEqualTo("Hello world");
        assertThat(first.getJsonObject("logprobs").getJsonArray("token_logprobs").size()).isEqualTo(promptTokens);
        assertThat(streamed.events()).last().isEqualTo("[DONE]");

        Http.Response refused = http.post("/v1/completions", new JsonObject().put("prompt", "Hello").put("max_tokens", 0));
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.json().getJsonObject("error").getString("param")).isEqualTo("max_tokens");
    }

    @Test
    void retrievesTheServedModelById() {
        Http.Response r = http.get("/v1/models/tiny-axk1");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().getString("id")).isEqualTo("tiny-axk1");
        assertThat(r.json().getString("object")).isEqualTo("model");
        Http.Response missing = http.get("/v1/models/gpt-4");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().getJsonObject("error").getString("code")).isEqualTo("model_not_found");
    }

    @Test
    void headAnswersLikeGetWithoutABody() throws Exception {
        for (String path : new String[] {"/health/live", "/health/ready", "/v1/models", "/v1/models/tiny-axk1"}) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(http.uri(path)).method("HEAD", HttpRequest.BodyPublishers.noBody()));
            assertThat(r.statusCode()).as(path).isEqualTo(200);
            assertThat(r.body()).as(path).isEmpty();
        }
    }

    @Test
    void corsIsOffUnlessOriginsAreConfigured() throws Exception {
        HttpResponse<String> off = send(preflight(http));
        assertThat(off.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();

        Http browser = browserShard.http;
        HttpResponse<String> on = send(preflight(browser));
        assertThat(on.statusCode()).isBetween(200, 204);
        assertThat(on.headers().firstValue("Access-Control-Allow-Origin")).hasValue(APP);
        assertThat(on.headers().firstValue("Access-Control-Allow-Methods").orElse("")).contains("POST");
        // the actual request still needs the API key, and its answer is readable by the page
        HttpResponse<String> call = send(HttpRequest.newBuilder(browser.uri("/v1/models")).header("Origin", APP)
                .header("Authorization", "Bearer k").GET());
        assertThat(call.statusCode()).isEqualTo(200);
        assertThat(call.headers().firstValue("Access-Control-Allow-Origin")).hasValue(APP);
        HttpResponse<String> stranger = send(HttpRequest.newBuilder(browser.uri("/v1/models")).header("Origin", "https://evil.example")
                .header("Authorization", "Bearer k").GET());
        assertThat(stranger.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }

    private static HttpRequest.Builder preflight(Http target) {
        return HttpRequest.newBuilder(target.uri("/v1/chat/completions")).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", APP).header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type");
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }
    }
}
