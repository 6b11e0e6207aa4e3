package dev.nuri.worker.api;

import dev.nuri.worker.support.InProcessShard;
import dev.nuri.worker.support.RawHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Slow, idle and surplus connections are closed by the server; with --http-half-close, a client that half-closes after
 * sending still gets its answer (off, a FIN cancels the request: QueueCancellationTest).
 */
class ConnectionLimitsTest {
    static InProcessShard shard;
    static int port;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--http-request-read-timeout-seconds", "1", "--http-idle-timeout-seconds", "2",
                "--http-max-connections", "8", "--http-half-close", "true");
        port = shard.http.uri("/").getPort();
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    @Test
    void aConnectionThatSendsItsHeadersSlowlyIsClosedAfterTheReadTimeout() {
        try (RawHttp slow = RawHttp.connect(port)) {
            long start = System.nanoTime();
            slow.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            // keeps trickling a header byte by byte, faster than the idle timeout
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (slow.closedByServer()) return true;
                try {
                    slow.send("X");
                } catch (RuntimeException e) {
                    return true; // the server already reset it
                }
                return false;
            });
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2)); // the read timeout (1 s), not the idle one (2 s)
        }
    }

    @Test
    void aBareConnectionIsClosedAfterTheIdleTimeout() {
        try (RawHttp idle = RawHttp.connect(port)) {
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(idle::closedByServer);
        }
    }

    @Test
    void aKeptAliveConnectionIsClosedAfterTheIdleTimeoutOnceAnswered() {
        try (RawHttp c = RawHttp.connect(port)) {
            c.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(c::closedByServer);
            assertThat(c.received()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void connectionsPastTheCapAreClosedAndTheServerStaysUsable() {
        List<RawHttp> held = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) held.add(RawHttp.connect(port));
            try (RawHttp extra = RawHttp.connect(port)) {
                await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(extra::closedByServer);
            }
        } finally {
            held.forEach(RawHttp::close);
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(shard.http.get("/health/live").status()).isEqualTo(200));
    }

    @Test
    void aClientThatHalfClosesAfterSendingGetsItsResponse() throws Exception {
        try (RawHttp c = RawHttp.connect(port)) {
            c.send(RawHttp.postKeepAlive("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":4,\"ignore_eos\":true}"));
            c.socket.shutdownOutput();
            String reply = c.readUntilClosed(Duration.ofSeconds(30));
            assertThat(reply).startsWith("HTTP/1.1 200").contains("\"completion_tokens\":4");
        }
    }
}
