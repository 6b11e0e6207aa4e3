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
 * Clients that hold a connection by being slow, with a read timeout (2 s) far below the idle timeout (120 s): each
 * must lose its connection after the read timeout, not the idle one. Open connections are read from the
 * nuri_http_connections gauge.
 */
class SlowClientTest {
    static InProcessShard shard;
    static int port;

    @BeforeAll
    static void start() {
        // a stream cap above what these tests generate: the stalled stream below ends normally instead of being aborted
        shard = InProcessShard.start("--http-request-read-timeout-seconds", "2", "--http-idle-timeout-seconds", "120",
                "--http-stream-buffer-bytes", Integer.toString(64 << 20));
        port = shard.http.uri("/").getPort();
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static double openConnections() {
        return shard.http.metric("nuri_http_connections");
    }

    @Test
    void aClientThatDoesNotReadItsNonStreamingAnswerIsDisconnectedAfterTheReadTimeout() {
        double before = openConnections();
        // n=16 with 20 logprobs for 600 tokens: about 3 MB of JSON, more than the socket's send buffer holds
        String body = "{\"prompt\":\"stall\",\"n\":16,\"logprobs\":20,\"max_tokens\":600,\"ignore_eos\":true}";
        try (RawHttp stalled = RawHttp.connect(port, 4096)) {
            // kept alive, as HTTP/1.1 clients are: the server has no reason of its own to close after answering
            stalled.send(RawHttp.postKeepAlive("/v1/completions", body));
            await().atMost(Duration.ofSeconds(60)).until(() -> shard.shard.engine().runningCount() == 16);
            await().atMost(Duration.ofSeconds(120)).until(() -> shard.shard.engine().runningCount() == 0);
            assertThat(openConnections()).as("the stalled client's connection while its answer waits").isGreaterThan(before);
            // the answer is written, the client reads nothing: the connection must go after the read timeout (2 s); the
            // bound is half the idle timeout (120 s), so nothing else can have closed it
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> openConnections() <= before);
            String received = stalled.readUntilClosed(Duration.ofSeconds(10));
            assertThat(received).startsWith("HTTP/1.1 200");
            assertThat(received).as("the answer was cut, not delivered whole").doesNotEndWith("}");
        }
        assertThat(shard.http.post("/v1/completions", "{\"prompt\":\"next\",\"max_tokens\":2}").status()).isEqualTo(200);
    }

    @Test
    void aBodyTrickledInIsCutAtTheReadTimeout() {
        double before = openConnections();
        try (RawHttp slow = RawHttp.connect(port)) {
            slow.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100000\r\n\r\n{\"prompt\":\"");
            // one byte every 200 ms: each far within the idle timeout, the whole far beyond the read timeout (2 s), which
            // alone can close it within the bound (100,000 bytes at this pace take hours)
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (slow.closedByServer()) return true;
                try {
                    slow.send("a");
                } catch (RuntimeException e) {
                    return true; // already reset
                }
                return false;
            });
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> openConnections() <= before);
        assertThat(shard.shard.engine().runningCount() + shard.shard.engine().waitingCount()).isZero();
    }

    @Test
    void aStreamWhoseReaderStallsAfterTheLastEventIsDisconnectedAfterTheReadTimeout() {
        double before = openConnections();
        // below the stream buffer cap: generation ends normally, the tail stays queued for a client that does not read
        String body = "{\"prompt\":\"stall\",\"n\":16,\"logprobs\":20,\"max_tokens\":600,\"ignore_eos\":true,\"stream\":true}";
        try (RawHttp stalled = RawHttp.connect(port, 4096)) {
            stalled.send(RawHttp.postKeepAlive("/v1/completions", body));
            await().atMost(Duration.ofSeconds(60)).until(() -> shard.shard.engine().runningCount() == 16);
            await().atMost(Duration.ofSeconds(120)).until(() -> shard.shard.engine().runningCount() == 0);
            assertThat(openConnections()).as("the stalled stream's connection once generation ended").isGreaterThan(before);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> openConnections() <= before);
            assertThat(stalled.readUntilClosed(Duration.ofSeconds(10))).doesNotContain("data: [DONE]");
        }
    }
}
