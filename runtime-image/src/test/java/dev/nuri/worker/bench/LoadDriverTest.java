package dev.nuri.worker.bench;

import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The load driver against a real shard over HTTP: open-loop arrivals, every streamed request accounted for. */
class LoadDriverTest {
    @Test
    void drivesAnOpenLoopAndReportsLatenciesAndGoodput(@TempDir Path dir) throws Exception {
        Path samples = dir.resolve("samples.txt");
        try (InProcessShard shard = InProcessShard.start()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PrintStream stdout = System.out;
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            try {
                LoadMain.main(new String[] {"--url", "http://127.0.0.1:" + shard.shard.httpPort(), "--rate", "8", "--duration", "3",
                        "--prompt-words", "4:16", "--max-tokens", "4:12", "--ttft-slo-ms", "60000", "--itl-slo-ms", "60000",
                        "--samples", samples.toString()});
            } finally {
                System.setOut(stdout);
            }
            String[] lines = out.toString(StandardCharsets.UTF_8).strip().split("\n");
            JsonObject summary = new JsonObject(lines[lines.length - 1]);
            assertThat(summary.getInteger("sent")).as(out.toString()).isBetween(8, 48); // Poisson: 24 expected in 3 s
            assertThat(summary.getInteger("ok")).isEqualTo(summary.getInteger("sent"));
            assertThat(summary.getInteger("failed")).isZero();
            assertThat(summary.getInteger("lost")).isZero();
            assertThat(summary.getDouble("ttft_max_ms")).isGreaterThanOrEqualTo(summary.getDouble("ttft_p99_ms"));
            assertThat(summary.getDouble("ttft_p50_ms")).isPositive();
            assertThat(summary.getDouble("ttft_p90_ms")).isGreaterThanOrEqualTo(summary.getDouble("ttft_p50_ms"));
            assertThat(summary.getDouble("itl_p50_ms")).isPositive();
            assertThat(summary.getDouble("goodput_rps")).as("every request within generous SLOs")
                    .isCloseTo(summary.getInteger("sent") / summary.getDouble("seconds"), org.assertj.core.data.Offset.offset(1e-9));
            // --samples: one line per answered request, its TTFT then its gaps, the figures the summary was made of
            List<double[]> recorded = Files.readAllLines(samples).stream()
                    .map(l -> Arrays.stream(l.split(" ")).mapToDouble(Double::parseDouble).toArray()).toList();
            assertThat(recorded).hasSize(summary.getInteger("ok"));
            assertThat(recorded.stream().mapToDouble(v -> v[0]).max().orElseThrow())
                    .isCloseTo(summary.getDouble("ttft_max_ms"), org.assertj.core.data.Offset.offset(0.001));
            assertThat(recorded).allSatisfy(v -> assertThat(Arrays.stream(v).min().orElseThrow()).isNotNegative());
        }
    }

    @Test
    void aRefusedRequestCountsAsFailed() throws Exception {
        try (InProcessShard shard = InProcessShard.start("--api-key", "secret")) {
            var outcome = LoadMain.request(java.net.http.HttpClient.newHttpClient(), "http://127.0.0.1:" + shard.shard.httpPort(), null,
                    new JsonObject().put("prompt", "x").put("max_tokens", 2).put("stream", true));
            assertThat(outcome.ok()).isFalse();
            assertThat(outcome.error()).startsWith("HTTP 401");
            assertThat(outcome.refused()).as("a 401 carries no Retry-After: lost, not refused").isFalse();
        }
    }
}
