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
    /**
     * The same limits but an idle timeout of an hour: a connection it closes within a test was closed by the read
     * timeout or the cap, not by idleness. (Against a 2 s idle timeout, telling them apart took wall-clock bounds.)
     */
    static InProcessShard patient;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--http-request-read-timeout-seconds", "1", "--http-idle-timeout-seconds", "2",
                "--http-max-connections", "8", "--http-half-close", "true");
        port = shard.http.uri("/").getPort();
        patient = InProcessShard.start("--http-request-read-timeout-seconds", "1", "--http-idle-timeout-seconds", "3600",
                "--http-max-connections", "8");
    }

    @AfterAll
    static void stop() {
        if (shard != null) shard.close();
        if (patient != null) patient.close();
    }

    @Test
    void aConnectionThatSendsItsHeadersSlowlyIsClosedAfterTheReadTimeout() {
        try (RawHttp slow = RawHttp.connect(patient.http.uri("/").getPort())) {
            slow.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            // keeps trickling a header byte by byte; only the read timeout (1 s) can close it
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (slow.closedByServer()) return true;
                try {
                    slow.send("X");
                } catch (RuntimeException e) {
                    return true; // the server already reset it
                }
                return false;
            });
        }
    }

    @Test
    void aBareConnectionIsClosedAfterTheIdleTimeout() {
        try (RawHttp idle = RawHttp.connect(port)) {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(idle::closedByServer);
        }
    }

    @Test
    void aKeptAliveConnectionIsClosedAfterTheIdleTimeoutOnceAnswered() {
        try (RawHttp c = RawHttp.connect(port)) {
            c.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(c::closedByServer);
            assertThat(c.received()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void connectionsPastTheCapAreClosedAndTheServerStaysUsable() {
        // The patient shard: held connections stay open, and the extra one can only be closed by the cap. Each held
        // one is answered first, so the server has counted all 8 before the extra one arrives (connections are
        // counted on their event loops, not in the order they were made). Only raw sockets: a pooled client's
        // connection would count too.
        int port = patient.http.uri("/").getPort();
        List<RawHttp> held = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                RawHttp c = RawHttp.connect(port);
                held.add(c);
                c.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                        .until(() -> c.closedByServer() || c.received().contains("\r\n\r\n"));
                assertThat(c.received()).as("held connection %d", i).startsWith("HTTP/1.1 200");
            }
            try (RawHttp extra = RawHttp.connect(port)) {
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(extra::closedByServer);
            }
            assertThat(held).as("the connections under the cap").noneMatch(RawHttp::closedByServer);
        } finally {
            held.forEach(RawHttp::close);
        }
        // usable again once the server has seen the held connections go
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(RawHttp.timeLiveness(port, Duration.ofSeconds(5))).isLessThan(Duration.ofSeconds(5)));
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
