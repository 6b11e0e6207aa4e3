package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** --api-key: the OpenAI routes and tokenization need the bearer key; probes and metrics stay open. */
class ApiKeyTest {
    static final String KEY = "sk-nuri-test-0123456789";
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--api-key", KEY);
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonObject completion() {
        return new JsonObject().put("model", "tiny-axk1").put("prompt", "Hello").put("max_tokens", 4).put("temperature", 0);
    }

    static void assertInvalidApiKey(Http.Response r) {
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("type")).isEqualTo("invalid_request_error");
        assertThat(error.getString("code")).isEqualTo("invalid_api_key");
        assertThat(error.containsKey("param")).isTrue();
        assertThat(error.getValue("param")).isNull();
        assertThat(error.getString("message")).isNotBlank().doesNotContain(KEY);
        assertThat(r.body()).doesNotContain(KEY);
    }

    @Test
    void requestsWithoutAKeyGet401() {
        assertInvalidApiKey(http.post("/v1/completions", completion()));
        assertInvalidApiKey(http.get("/v1/models"));
        assertInvalidApiKey(http.post("/tokenize", new JsonObject().put("prompt", "Hello")));
        assertInvalidApiKey(http.post("/detokenize", new JsonObject().put("tokens", new io.vertx.core.json.JsonArray().add(9))));
        assertInvalidApiKey(http.get("/v1/models", "Authorization", KEY)); // no Bearer scheme
    }

    @Test
    void aWrongKeyGets401() {
        assertInvalidApiKey(http.post("/v1/completions", completion().encode(), "Authorization", "Bearer " + KEY + "x"));
        assertInvalidApiKey(http.post("/v1/chat/completions", "{}", "Authorization", "Bearer sk-other"));
        assertInvalidApiKey(http.get("/v1/models", "Authorization", "Bearer "));
    }

    @Test
    void theRightKeyIsServed() {
        Http.Response r = http.post("/v1/completions", completion().encode(), "Authorization", "Bearer " + KEY);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().getJsonArray("choices").getJsonObject(0).getString("text")).isNotNull();
        assertThat(http.get("/v1/models", "Authorization", "bearer " + KEY).status()).isEqualTo(200);
        assertThat(http.post("/tokenize", new JsonObject().put("prompt", "Hello").encode(), "Authorization", "Bearer " + KEY)
                .json().getInteger("count")).isPositive();
    }

    @Test
    void healthAndMetricsStayOpen() {
        assertThat(http.get("/health").status()).isEqualTo(200);
        assertThat(http.get("/health/live").status()).isEqualTo(200);
        assertThat(http.get("/health/ready").status()).isEqualTo(200);
        Http.Response metrics = http.get("/metrics");
        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.body()).contains("nuri_").doesNotContain(KEY);
    }
}
