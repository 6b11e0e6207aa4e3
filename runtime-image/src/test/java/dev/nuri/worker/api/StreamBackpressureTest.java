package dev.nuri.worker.api;

import dev.nuri.worker.support.InProcessShard;
import dev.nuri.worker.support.RawHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A client that stops reading a stream does not make the server hold the whole response: once more than
 * --http-stream-buffer-bytes wait past the socket's write queue, the request is aborted and its engine slot freed.
 */
class StreamBackpressureTest {
    static InProcessShard shard;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--http-stream-buffer-bytes", "65536");
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static double aborts() {
        return shard.http.metricWhere("nuri_request_success_total", "finished_reason=\"abort\"");
    }

    @Test
    void aStreamWhoseClientStopsReadingIsAbortedAndItsSequencesFreed() {
        int port = shard.http.uri("/").getPort();
        // n=16 with 20 logprobs for 1000 tokens: about 16 MB of events, far more than socket buffers hold
        String body = "{\"prompt\":\"stall\",\"n\":16,\"logprobs\":20,\"max_tokens\":1000,\"ignore_eos\":true,\"stream\":true}";
        try (RawHttp stalled = RawHttp.connect(port, 4096)) {
            stalled.send(RawHttp.post("/v1/completions", "application/json", body));
            // started: all 16 running, or already aborted (a fast machine can fill the buffer between two polls, and
            // then 16 running is never seen); before the request arrives neither holds
            await().atMost(Duration.ofSeconds(60)).until(() -> shard.shard.engine().runningCount() == 16 || aborts() >= 1);
            // the client reads nothing; the server must give up on it rather than queue the rest
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .until(() -> shard.shard.engine().runningCount() == 0 && shard.shard.engine().waitingCount() == 0);
            String received = stalled.readUntilClosed(Duration.ofSeconds(10));
            assertThat(received).startsWith("HTTP/1.1 200").contains("data: {");
            assertThat(received).as("the stream was cut, not completed").doesNotContain("data: [DONE]");
        }
        assertThat(aborts()).isEqualTo(1.0);
        // the shard serves others afterwards
        assertThat(shard.http.post("/v1/completions", "{\"prompt\":\"next\",\"max_tokens\":2}").status()).isEqualTo(200);
    }
}
