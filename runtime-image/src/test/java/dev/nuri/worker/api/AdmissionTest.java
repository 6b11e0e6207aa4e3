package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Queueing, KV-cache admission and cancellation on a shard whose batch holds a single sequence. */
class AdmissionTest {
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--max-batch", "1", "--max-waiting", "1", "--kv-cache-tokens", "2048");
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonObject longStream() {
        return new JsonObject().put("prompt", "a long story").put("max_tokens", 1000).put("temperature", 1.0)
                .put("ignore_eos", true).put("stream", true);
    }

    @Test
    void fullQueueAnswers429WithRetryAfterAndClosingTheStreamCancelsGeneration() throws Exception {
        HttpResponse<Stream<String>> running = http.stream("/v1/completions", longStream());
        Iterator<String> lines = running.body().iterator();
        assertThat(lines.next()).startsWith("data: ");
        await().atMost(Duration.ofSeconds(30)).until(() -> shard.shard.engine().runningCount() == 1);

        // fills the one waiting slot: admitted only after the running stream ends
        var waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> http.post("/v1/completions",
                new JsonObject().put("prompt", "queued").put("max_tokens", 2)));
        await().atMost(Duration.ofSeconds(30)).until(() -> shard.shard.engine().waitingCount() == 1);

        Http.Response rejected = http.post("/v1/completions", new JsonObject().put("prompt", "one too many").put("max_tokens", 2));
        assertThat(rejected.status()).isEqualTo(429);
        assertThat(rejected.headers().firstValue("Retry-After")).hasValue("1");
        assertThat(rejected.json().getJsonObject("error").getString("type")).isEqualTo("rate_limit_error");

        double abortsBefore = abortCount();
        running.body().close(); // the client goes away mid-stream
        await().atMost(Duration.ofSeconds(60)).until(() -> abortCount() > abortsBefore);
        assertThat(waiting.get().status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> shard.shard.engine().runningCount() == 0);
    }

    @Test
    void requestLargerThanTheKvBudgetIs400() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", "x").put("max_tokens", 1000).put("n", 3));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("kv_cache_budget_exceeded");
    }

    private static double abortCount() {
        return http.metricWhere("nuri_request_success_total", "finished_reason=\"abort\"");
    }
}
