package dev.nuri.operator.autoscaling;

import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What one shard's metrics said at one instant: the worker's gauges and its cumulative latency
 * histograms (vLLM's names under the {@code nuri_} prefix, see the worker's WorkerMetrics).
 *
 * @param running           requests admitted and being generated ({@code nuri_num_requests_running})
 * @param waiting           requests waiting for admission ({@code nuri_num_requests_waiting})
 * @param kvCacheUsage      share of the KV-cache budget reserved, 0..1 ({@code nuri_kv_cache_usage_perc})
 * @param timeToFirstToken  {@code nuri_time_to_first_token_seconds} buckets, since the process started
 * @param interTokenLatency {@code nuri_inter_token_latency_seconds} buckets, since the process started
 */
public record ShardReading(double running, double waiting, double kvCacheUsage, Histogram timeToFirstToken, Histogram interTokenLatency) {

    public static final String RUNNING = "nuri_num_requests_running";
    public static final String WAITING = "nuri_num_requests_waiting";
    public static final String KV_CACHE_USAGE = "nuri_kv_cache_usage_perc";
    public static final String TIME_TO_FIRST_TOKEN = "nuri_time_to_first_token_seconds";
    public static final String INTER_TOKEN_LATENCY = "nuri_inter_token_latency_seconds";

    /** The reading in one shard's samples, or why there is none (a worker that does not serve these series). */
    public static ShardReading from(List<PrometheusText.Sample> samples) {
        double waiting = gauge(samples, WAITING);
        double kv = gauge(samples, KV_CACHE_USAGE);
        return new ShardReading(gauge(samples, RUNNING), waiting, kv, histogram(samples, TIME_TO_FIRST_TOKEN), histogram(samples, INTER_TOKEN_LATENCY));
    }

    private static double gauge(List<PrometheusText.Sample> samples, String name) {
        Optional<PrometheusText.Sample> s = samples.stream().filter(x -> x.name().equals(name)).findFirst();
        return s.orElseThrow(() -> new IllegalArgumentException("no " + name + " series")).value();
    }

    /**
     * A histogram summed over its series, but for batch requests' ({@code priority="batch"}): they wait behind
     * interactive ones by design, and the latency targets are the interactive requests' (a running batch job must not
     * add groups through them).
     */
    private static Histogram histogram(List<PrometheusText.Sample> samples, String name) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        samples.stream().filter(x -> x.name().equals(name + "_bucket") && x.labels().containsKey("le")
                        && !"batch".equals(x.labels().get("priority")))
                .forEach(x -> buckets.merge(PrometheusText.parseValue(x.labels().get("le")), x.value(), Double::sum));
        if (buckets.isEmpty() || !buckets.containsKey(Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("no " + name + "_bucket series with an le=\"+Inf\" bucket");
        }
        return new Histogram(buckets.keySet().stream().mapToDouble(Double::doubleValue).toArray(),
                buckets.values().stream().mapToDouble(Double::doubleValue).toArray());
    }
}
