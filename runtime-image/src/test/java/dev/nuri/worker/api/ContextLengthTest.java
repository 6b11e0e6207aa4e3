package dev.nuri.worker.api;

import dev.nuri.worker.shard.Shard;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** --context-length caps prompt + completion below the model's max_position_embeddings (1024 for tiny-axk1). */
class ContextLengthTest {
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--context-length", "64");
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonArray tokens(int count) {
        JsonArray a = new JsonArray();
        IntStream.range(0, count).forEach(i -> a.add(10 + i % 200));
        return a;
    }

    @Test
    void modelsAndTokenizeReportTheCap() {
        assertThat(http.get("/v1/models").json().getJsonArray("data").getJsonObject(0).getInteger("max_model_len")).isEqualTo(64);
        assertThat(http.post("/tokenize", new JsonObject().put("prompt", "Hello")).json().getInteger("max_model_len")).isEqualTo(64);
    }

    @Test
    void aPromptOverTheCapGets400NamingTheLimit() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", tokens(100)).put("max_tokens", 1));
        assertThat(r.status()).isEqualTo(400);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("code")).isEqualTo("context_length_exceeded");
        assertThat(error.getString("message")).contains("maximum context length is 64 tokens");

        Http.Response sum = http.post("/v1/completions", new JsonObject().put("prompt", tokens(60)).put("max_tokens", 10));
        assertThat(sum.status()).isEqualTo(400);
        assertThat(sum.json().getJsonObject("error").getString("message")).contains("64").contains("70");
    }

    @Test
    void promptAndCompletionWithinTheCapAreServedAndTheDefaultMaxTokensFits() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", tokens(60)).put("max_tokens", 4)
                .put("temperature", 0).put("ignore_eos", true));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().getJsonObject("usage").getInteger("total_tokens")).isEqualTo(64);
        Http.Response chat = http.post("/v1/chat/completions", new JsonObject().put("temperature", 0).put("ignore_eos", true)
                .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "Hi"))));
        assertThat(chat.status()).isEqualTo(200);
        assertThat(chat.json().getJsonObject("usage").getInteger("total_tokens")).isEqualTo(64);
    }

    @Test
    void aCapLargerThanTheModelSupportsFailsAtStart() {
        assertThatThrownBy(() -> Shard.start(ShardSettings.parse(new String[] {"--port", "0"},
                Map.of(ShardSetting.MODEL.env(), "builtin:tiny-axk1", ShardSetting.CONTEXT_LENGTH.env(), "2048"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2048").hasMessageContaining("max_position_embeddings 1024");
        assertThatThrownBy(() -> Shard.start(ShardSettings.parse(new String[] {"--port", "0", "--context-length", "0"}, Map.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1");
    }
}
