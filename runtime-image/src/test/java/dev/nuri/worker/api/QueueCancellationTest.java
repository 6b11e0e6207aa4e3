package dev.nuri.worker.api;

import dev.nuri.worker.support.EngineGate;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Clients that give up while their request waits for admission leave the queue at once. */
class QueueCancellationTest {
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--max-waiting", "4");
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonObject request(String prompt) {
        return new JsonObject().put("prompt", prompt).put("max_tokens", 2);
    }

    static double waiting() {
        return http.metric("nuri_num_requests_waiting");
    }

    @Test
    void disconnectedWaitingClientsLeaveTheQueueAndFreeTheirPlaces() throws Exception {
        List<Socket> queued = new ArrayList<>();
        List<CompletableFuture<Http.Response>> later = new ArrayList<>();
        double abortsBefore = http.metricWhere("nuri_request_success_total", "finished_reason=\"abort\"");
        try (EngineGate gate = EngineGate.close(shard.shard.engine())) { // the engine is busy: every request waits
            for (int i = 0; i < 4; i++) queued.add(http.postAndHold("/v1/completions", request("queued " + i)));
            await().atMost(Duration.ofSeconds(30)).until(() -> waiting() == 4);
            assertThat(http.post("/v1/completions", request("one too many")).status()).isEqualTo(429);

            for (int i = 0; i < 3; i++) queued.get(i).close();
            await("the gauge shows the one client still waiting").atMost(Duration.ofSeconds(30)).until(() -> waiting() == 1);
            assertThat(http.metricWhere("nuri_request_success_total", "finished_reason=\"abort\"") - abortsBefore).isEqualTo(3);

            for (int i = 0; i < 3; i++) later.add(CompletableFuture.supplyAsync(() -> http.post("/v1/completions", request("later"))));
            await().atMost(Duration.ofSeconds(30)).until(() -> waiting() == 4 || later.stream().anyMatch(CompletableFuture::isDone));
            assertThat(later).as("no request is refused while places are free").noneMatch(CompletableFuture::isDone);
            assertThat(http.post("/v1/completions", request("one too many")).status()).isEqualTo(429);
        }
        for (CompletableFuture<Http.Response> f : later) assertThat(f.get().status()).isEqualTo(200);
        queued.get(3).close();
        await().atMost(Duration.ofSeconds(30)).until(() -> waiting() == 0);
    }
}
