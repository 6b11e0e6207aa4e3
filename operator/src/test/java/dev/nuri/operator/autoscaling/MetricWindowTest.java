package dev.nuri.operator.autoscaling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.nuri.operator.autoscaling.ScalingDecision.Measurement;
import dev.nuri.operator.autoscaling.ScalingDecision.Target;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetricWindowTest {

    static final Instant T0 = Instant.parse("2026-11-30T10:00:00Z");
    static final double[] BOUNDS = {0.1, 0.5, 1.0, Double.POSITIVE_INFINITY};

    static ShardReading reading(double waiting, double kv, double... ttftCounts) {
        return new ShardReading(0, waiting, kv, new Histogram(BOUNDS, ttftCounts), new Histogram(BOUNDS, new double[] {0, 0, 0, 0}));
    }

    static final Map<Target, Double> GOALS = Map.of(Target.QUEUE_LENGTH, 4.0, Target.KV_CACHE_USAGE, 80.0,
            Target.TIME_TO_FIRST_TOKEN, 500.0, Target.INTER_TOKEN_LATENCY, 50.0);

    @Test
    void queueIsPerGroupKvIsTheShardMeanAndLatencyComesFromTheWindow() {
        MetricWindow w = new MetricWindow(Duration.ofSeconds(60));
        // two groups of two shards; shard a was slow before the window
        w.record(T0, "a", reading(0, 0.5, 0, 0, 1000, 1000));
        w.record(T0, "b", reading(0, 0.5, 0, 0, 0, 0));
        w.record(T0, "c", reading(0, 0.5, 0, 0, 0, 0));
        w.record(T0, "d", reading(0, 0.5, 0, 0, 0, 0));
        w.record(T0.plusSeconds(60), "a", reading(3, 0.6, 50, 50, 1050, 1050));
        w.record(T0.plusSeconds(60), "b", reading(2, 0.7, 40, 50, 50, 50));
        w.record(T0.plusSeconds(60), "c", reading(1, 0.8, 0, 0, 0, 0));
        w.record(T0.plusSeconds(60), "d", reading(0, 0.9, 0, 0, 0, 0));
        List<Measurement> m = w.measure(GOALS, List.of("a", "b", "c", "d"), 2);
        assertThat(value(m, Target.QUEUE_LENGTH)).isEqualTo(3.0); // 6 waiting over 2 groups
        assertThat(value(m, Target.KV_CACHE_USAGE)).isCloseTo(75.0, within(1e-9));
        // window: 90 at most 0.1 s, 10 in (0.1, 0.5]: p90 = 0.1 s; lifetime would be 1 s
        assertThat(value(m, Target.TIME_TO_FIRST_TOKEN)).isCloseTo(100.0, within(1e-6));
        assertThat(value(m, Target.INTER_TOKEN_LATENCY)).as("no tokens in the window: nothing was slow").isEqualTo(0.0);
    }

    @Test
    void aShardReadOnceHasNoLatencyYetAndOldReadingsLeaveTheWindow() {
        MetricWindow w = new MetricWindow(Duration.ofSeconds(60));
        w.record(T0, "a", reading(0, 0, 0, 0, 1000, 1000));
        assertThat(w.measure(GOALS, List.of("a"), 1)).filteredOn(x -> x.target() == Target.TIME_TO_FIRST_TOKEN)
                .singleElement().satisfies(x -> assertThat(x.value()).isEmpty());
        w.record(T0.plusSeconds(30), "a", reading(0, 0, 0, 0, 1000, 1000));
        w.record(T0.plusSeconds(60), "a", reading(0, 0, 0, 0, 1000, 1000));
        w.record(T0.plusSeconds(120), "a", reading(0, 0, 10, 10, 1010, 1010));
        // window start is the reading at 60 s: only the 10 fast ones count
        assertThat(value(w.measure(GOALS, List.of("a"), 1), Target.TIME_TO_FIRST_TOKEN)).isCloseTo(90.0, within(1e-6));
        assertThat(w.measure(GOALS, List.of("a", "gone"), 1)).as("a shard without readings: nothing measured")
                .allSatisfy(x -> assertThat(x.value()).isEmpty());
    }

    @Test
    void parsesTheExpositionFormat() {
        String text = """
                # HELP nuri_num_requests_waiting Requests waiting for admission
                # TYPE nuri_num_requests_waiting gauge
                nuri_num_requests_running{model_name="m",shard="0"} 1.0
                nuri_num_requests_waiting{model_name="tiny \\"q\\"",shard="0",} 3.0
                nuri_kv_cache_usage_perc{model_name="m",shard="0"} 0.25
                nuri_time_to_first_token_seconds_bucket{model_name="m",shard="0",le="0.1"} 1.0
                nuri_time_to_first_token_seconds_bucket{model_name="m",shard="0",le="+Inf"} 2.0 1700000000000
                nuri_inter_token_latency_seconds_bucket{le="+Inf"} 0
                """;
        List<PrometheusText.Sample> samples = PrometheusText.parse(text);
        assertThat(samples.get(1).labels()).containsEntry("model_name", "tiny \"q\"");
        ShardReading r = ShardReading.from(samples);
        assertThat(r.running()).isEqualTo(1.0);
        assertThat(r.waiting()).isEqualTo(3.0);
        assertThat(r.kvCacheUsage()).isEqualTo(0.25);
        assertThat(r.timeToFirstToken()).isEqualTo(new Histogram(new double[] {0.1, Double.POSITIVE_INFINITY}, new double[] {1, 2}));
        assertThatThrownBy(() -> ShardReading.from(PrometheusText.parse("other_metric 1\n")))
                .hasMessage("no nuri_num_requests_waiting series");
        assertThatThrownBy(() -> PrometheusText.parse("ok 1\nbroken{le=1} 2\n")).hasMessageStartingWith("line 2 is not Prometheus text format");
    }

    @Test
    void theLatencyTargetsReadInteractiveRequestsOnly() {
        String text = """
                nuri_num_requests_running{model_name="m",shard="0"} 1.0
                nuri_num_requests_waiting{model_name="m",shard="0"} 0.0
                nuri_kv_cache_usage_perc{model_name="m",shard="0"} 0.25
                nuri_time_to_first_token_seconds_bucket{model_name="m",priority="interactive",shard="0",le="0.1"} 9.0
                nuri_time_to_first_token_seconds_bucket{model_name="m",priority="interactive",shard="0",le="+Inf"} 10.0
                nuri_time_to_first_token_seconds_bucket{model_name="m",priority="batch",shard="0",le="0.1"} 0.0
                nuri_time_to_first_token_seconds_bucket{model_name="m",priority="batch",shard="0",le="+Inf"} 500.0
                nuri_inter_token_latency_seconds_bucket{model_name="m",shard="0",le="+Inf"} 0
                """;
        assertThat(ShardReading.from(PrometheusText.parse(text)).timeToFirstToken()).as("a batch's requests left out")
                .isEqualTo(new Histogram(new double[] {0.1, Double.POSITIVE_INFINITY}, new double[] {9, 10}));
    }

    static double value(List<Measurement> m, Target t) {
        return m.stream().filter(x -> x.target() == t).findFirst().orElseThrow().value().getAsDouble();
    }
}
