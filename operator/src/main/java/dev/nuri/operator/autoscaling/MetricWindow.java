package dev.nuri.operator.autoscaling;

import dev.nuri.operator.autoscaling.ScalingDecision.Measurement;
import dev.nuri.operator.autoscaling.ScalingDecision.Target;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The shard readings of the last {@link #window}, per shard, and the values the targets are judged
 * on: queue and KV use from the latest reading, latency percentiles from what the histograms gained
 * inside the window (a shard read only once has no window yet and gives no latency).
 */
public final class MetricWindow {

    /** The percentile latency targets name (spec.autoscaling.targets.*Millis). */
    public static final double LATENCY_QUANTILE = 0.90;

    private final Duration window;
    private final Map<String, Deque<Timed>> byShard = new HashMap<>();

    private record Timed(Instant at, ShardReading reading) {}

    public MetricWindow(Duration window) {
        this.window = window;
    }

    /** @param shard a key that changes when the shard's process does (a pod's uid) or whose counters reset */
    public void record(Instant at, String shard, ShardReading reading) {
        Deque<Timed> readings = byShard.computeIfAbsent(shard, k -> new ArrayDeque<>());
        readings.addLast(new Timed(at, reading));
        // keep the newest reading at least `window` old: it is the start of the window
        while (readings.size() > 1 && !readings.stream().skip(1).findFirst().orElseThrow().at().isAfter(at.minus(window))) {
            readings.removeFirst();
        }
    }

    /** Drops the shards that are gone. */
    public void retain(Set<String> shards) {
        byShard.keySet().retainAll(shards);
    }

    /**
     * The configured targets' values over these shards (all of the measured groups').
     *
     * @param goals  per target, its goal in the target's unit; targets not configured are absent
     * @param groups how many groups these shards make up (queue length is per group)
     */
    public List<Measurement> measure(Map<Target, Double> goals, Collection<String> shards, int groups) {
        List<Measurement> out = new ArrayList<>();
        for (Target t : Target.values()) {
            Double goal = goals.get(t);
            if (goal == null) continue;
            out.add(new Measurement(t, goal, shards.isEmpty() || groups == 0 ? OptionalDouble.empty() : value(t, shards, groups)));
        }
        return out;
    }

    private OptionalDouble value(Target t, Collection<String> shards, int groups) {
        List<Deque<Timed>> readings = shards.stream().map(byShard::get).toList();
        if (readings.stream().anyMatch(r -> r == null || r.isEmpty())) return OptionalDouble.empty();
        return switch (t) {
            case QUEUE_LENGTH -> OptionalDouble.of(readings.stream().mapToDouble(r -> r.getLast().reading().waiting()).sum() / groups);
            case KV_CACHE_USAGE -> OptionalDouble.of(100 * readings.stream().mapToDouble(r -> r.getLast().reading().kvCacheUsage())
                    .average().orElseThrow());
            case TIME_TO_FIRST_TOKEN -> latencyMillis(readings, ShardReading::timeToFirstToken);
            case INTER_TOKEN_LATENCY -> latencyMillis(readings, ShardReading::interTokenLatency);
        };
    }

    /** p90 of what every shard observed inside the window; 0 when nothing was (no request waited for anything). */
    private static OptionalDouble latencyMillis(List<Deque<Timed>> readings, java.util.function.Function<ShardReading, Histogram> which) {
        Histogram sum = Histogram.EMPTY;
        for (Deque<Timed> r : readings) {
            if (r.size() < 2) return OptionalDouble.empty(); // no window yet: lifetime totals are not a measurement
            sum = sum.plus(which.apply(r.getLast().reading()).since(which.apply(r.getFirst().reading())));
        }
        OptionalDouble seconds = sum.quantile(LATENCY_QUANTILE);
        return OptionalDouble.of(seconds.isPresent() ? seconds.getAsDouble() * 1000 : 0);
    }
}
