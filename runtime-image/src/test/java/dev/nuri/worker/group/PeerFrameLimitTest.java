package dev.nuri.worker.group;

import dev.nuri.contract.ShardSetting;
import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A step that carries more tokens than the context length still reaches the peer shard. Its frames used to be capped
 * at max(context, maxBatch) tokens while a step carries up to maxBatchedTokens: hack/soak saw every step past 1,024
 * tokens drop the peer link ("DISPATCH of 1898 tokens is outside 1..1024") and the whole step answered 503.
 */
class PeerFrameLimitTest {
    @Test
    void eightPromptsPrefilledInOneStepPastTheContextLengthAreServed() {
        // context 64: eight 60-token prompts in one request start together, 480 tokens in one step (> 256 = maxBatch)
        try (GroupFixture group = new GroupFixture(2, Map.of(ShardSetting.CONTEXT_LENGTH.env(), "64"))) {
            JsonArray prompts = new JsonArray();
            for (int p = 0; p < 8; p++) {
                JsonArray ids = new JsonArray();
                for (int i = 0; i < 60; i++) ids.add(10 + (p * 7 + i) % 400);
                prompts.add(ids);
            }
            Http.Response r = group.http(0).post("/v1/completions", new JsonObject().put("model", "tiny-axk1")
                    .put("prompt", prompts).put("max_tokens", 2).put("temperature", 0).put("ignore_eos", true));
            assertThat(r.status()).as(r.body() + "; logs in " + group.logs.toAbsolutePath()).isEqualTo(200);
            assertThat(r.json().getJsonArray("choices")).hasSize(8);
        }
    }
}
