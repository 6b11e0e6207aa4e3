package dev.nuri.worker.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The worker's Prometheus metrics: vLLM's serving set (same names, same meaning, same units) served twice, under a
 * {@code nuri_} prefix and under vLLM's own {@code vllm:} names, so that dashboards, KEDA triggers and the Gateway API
 * inference extension's endpoint picker written for vLLM read a shard unchanged; plus the expert-parallel and engine
 * ones, under {@code nuri_} only. Every series carries {@code model_name} and {@code shard}. Micrometer's
 * {@code *_max} gauges (a decaying maximum that vLLM does not have) are not served.
 */
public final class WorkerMetrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    public static final String NUM_REQUESTS_RUNNING = "nuri.num_requests_running";
    public static final String NUM_REQUESTS_WAITING = "nuri.num_requests_waiting";
    public static final String KV_CACHE_USAGE_PERC = "nuri.kv_cache_usage_perc";
    public static final String KV_CACHE_ALLOCATED_BYTES = "nuri.kv_cache_allocated_bytes";
    /** The meters vLLM also has, by their name after the {@code nuri.} prefix; each is served under {@code vllm:} too. */
    static final Set<String> VLLM_NAMES = Set.of("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc",
            "prompt_tokens", "generation_tokens", "request_success", "num_preemptions", "time_to_first_token",
            "inter_token_latency", "e2e_request_latency", "request_queue_time", "request_prompt_tokens",
            "request_generation_tokens", "prefix_cache_queries", "prefix_cache_hits");

    private static final Duration[] LATENCY_BUCKETS = seconds(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
            0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0);
    private static final Duration[] FAST_BUCKETS = seconds(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0);
    private static final double[] TOKEN_BUCKETS = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};

    private final PrometheusMeterRegistry nuriNames = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final PrometheusMeterRegistry vllmNames = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** every meter is registered here and so recorded in both registries above */
    private final MeterRegistry registry = new CompositeMeterRegistry();
    private final Map<String, Counter> successByReason = new ConcurrentHashMap<>();
    private final Map<Integer, Counter> expertTokens = new ConcurrentHashMap<>();

    public final Counter promptTokens;
    public final Counter generationTokens;
    public final Counter preemptions;
    public final Counter prefixCacheQueries;
    public final Counter prefixCacheHits;
    private final Timer timeToFirstToken;
    private final Timer batchTimeToFirstToken;
    public final Timer interTokenLatency;
    public final Timer e2eLatency;
    private final Timer queueTime;
    private final Timer batchQueueTime;
    private final Timer prepTime;
    private final Timer batchPrepTime;
    private final Timer prepWait;
    private final Timer batchPrepWait;
    public final DistributionSummary requestPromptTokens;
    public final DistributionSummary requestGenerationTokens;
    public final Timer dispatch;
    public final Timer combine;
    /** expert compute for this shard's own tokens */
    public final Timer expertCompute;
    /** expert compute this shard did for its peers (inside their combine wait) */
    public final Timer expertComputeForPeers;
    public final Timer decodeStep;
    public final Timer prefill;
    public final DistributionSummary batchSize;
    /** engine steps run as two overlapped micro-batches */
    public final Counter twoBatchOverlapSteps;

    public WorkerMetrics(String modelName, int shardIndex) {
        // filters map first, then accept or deny the mapped id: rename vLLM's set, drop the rest
        vllmNames.config().meterFilter(new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                String name = id.getName();
                boolean vllm = name.startsWith("nuri.") && VLLM_NAMES.contains(name.substring("nuri.".length()));
                return vllm ? id.withName("vllm:" + name.substring("nuri.".length())) : id;
            }
        }).meterFilter(MeterFilter.denyUnless(id -> id.getName().startsWith("vllm:")));
        CompositeMeterRegistry composite = (CompositeMeterRegistry) registry;
        composite.add(nuriNames).add(vllmNames);
        registry.config().commonTags(Tags.of("model_name", modelName, "shard", Integer.toString(shardIndex)));
        promptTokens = Counter.builder("nuri.prompt_tokens").description("Prefill tokens processed").register(registry);
        generationTokens = Counter.builder("nuri.generation_tokens").description("Generated tokens").register(registry);
        preemptions = Counter.builder("nuri.num_preemptions")
                .description("Sequences preempted: KV blocks given back when none was free, recomputed when they resume").register(registry);
        prefixCacheQueries = Counter.builder("nuri.prefix_cache_queries")
                .description("Tokens of starting sequences looked up in the prefix cache").register(registry);
        prefixCacheHits = Counter.builder("nuri.prefix_cache_hits")
                .description("Tokens of starting sequences found in the prefix cache (not recomputed)").register(registry);
        // by priority: batch requests wait behind interactive ones by design, and would hide the interactive tail
        String ttft = "Time from arrival at the engine to the first generated token";
        timeToFirstToken = latency("nuri.time_to_first_token", ttft, INTERACTIVE);
        batchTimeToFirstToken = latency("nuri.time_to_first_token", ttft, BATCH);
        interTokenLatency = latency("nuri.inter_token_latency", "Time between consecutive generated tokens", LATENCY_BUCKETS);
        e2eLatency = latency("nuri.e2e_request_latency", "Time from arrival to the last token", LATENCY_BUCKETS);
        String queue = "Time spent waiting for admission";
        queueTime = latency("nuri.request_queue_time", queue, INTERACTIVE);
        batchQueueTime = latency("nuri.request_queue_time", queue, BATCH);
        String prep = "Time from a request's arrival at the HTTP server to its arrival at the engine: the body read, parsing, "
                + "the chat template and tokenizing, the wait for a request-prep thread included";
        prepTime = latency("nuri.request_prep_time", prep, INTERACTIVE);
        batchPrepTime = latency("nuri.request_prep_time", prep, BATCH);
        String wait = "Time from a request's arrival at the HTTP server until a request-prep thread takes it up (the body read included)";
        prepWait = latency("nuri.request_prep_wait", wait, INTERACTIVE);
        batchPrepWait = latency("nuri.request_prep_wait", wait, BATCH);
        requestPromptTokens = tokens("nuri.request_prompt_tokens", "Prompt tokens per request");
        requestGenerationTokens = tokens("nuri.request_generation_tokens", "Generated tokens per request");
        dispatch = latency("nuri.moe_dispatch", "Per MoE layer: routing, encoding and sending hidden vectors to peer shards", FAST_BUCKETS);
        combine = latency("nuri.moe_combine", "Per MoE layer: waiting for and adding the peers' partial sums", FAST_BUCKETS);
        decodeStep = latency("nuri.engine_decode_step", "An engine step of decodes only (all layers, MoE included)", FAST_BUCKETS);
        prefill = latency("nuri.engine_prefill", "An engine step that carries prompt chunks (and the decodes that ride along)", LATENCY_BUCKETS);
        batchSize = DistributionSummary.builder("nuri.engine_batch_size").description("Sequences per engine step")
                .serviceLevelObjectives(TOKEN_BUCKETS).register(registry);
        twoBatchOverlapSteps = Counter.builder("nuri.engine_two_batch_overlap_steps")
                .description("Engine steps run as two micro-batches, each one's expert traffic overlapping the other's compute")
                .register(registry);
        expertCompute = Timer.builder("nuri.moe_expert_compute").description("Per call: routed-expert compute on this shard")
                .tag("tokens_from", "self").serviceLevelObjectives(FAST_BUCKETS).register(registry);
        expertComputeForPeers = Timer.builder("nuri.moe_expert_compute").description("Per call: routed-expert compute on this shard")
                .tag("tokens_from", "peer").serviceLevelObjectives(FAST_BUCKETS).register(registry);
        ResidentMemory.register(this);
    }

    private Timer latency(String name, String description, Duration[] buckets) {
        return Timer.builder(name).description(description).serviceLevelObjectives(buckets).register(registry);
    }

    private static final Tags INTERACTIVE = Tags.of("priority", "interactive");
    private static final Tags BATCH = Tags.of("priority", "batch");

    private Timer latency(String name, String description, Tags priority) {
        return Timer.builder(name).description(description).tags(priority).serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
    }

    /** @param batch the request came with {@code X-Nuri-Priority: batch} (series {@code priority="batch"}, else "interactive") */
    public Timer timeToFirstToken(boolean batch) {
        return batch ? batchTimeToFirstToken : timeToFirstToken;
    }

    /** @param batch as {@link #timeToFirstToken(boolean)} */
    public Timer queueTime(boolean batch) {
        return batch ? batchQueueTime : queueTime;
    }

    /** @param batch as {@link #timeToFirstToken(boolean)} */
    public Timer prepTime(boolean batch) {
        return batch ? batchPrepTime : prepTime;
    }

    /** @param batch as {@link #timeToFirstToken(boolean)} */
    public Timer prepWait(boolean batch) {
        return batch ? batchPrepWait : prepWait;
    }

    private DistributionSummary tokens(String name, String description) {
        return DistributionSummary.builder(name).description(description).serviceLevelObjectives(TOKEN_BUCKETS).register(registry);
    }

    private static Duration[] seconds(double... s) {
        Duration[] d = new Duration[s.length];
        for (int i = 0; i < s.length; i++) d[i] = Duration.ofNanos((long) (s[i] * 1e9));
        return d;
    }

    public void requestFinished(String finishReason) {
        successByReason.computeIfAbsent(finishReason, r -> Counter.builder("nuri.request_success")
                .description("Finished requests by finish reason").tag("finished_reason", r).register(registry)).increment();
    }

    public void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /** Tokens routed to each expert, summed over the MoE layers (counted on the shard that owns the token). */
    public void expertTokens(int expert, long tokens) {
        expertTokens.computeIfAbsent(expert, e -> Counter.builder("nuri.moe_expert_tokens")
                .description("Tokens routed to each expert, summed over MoE layers").tag("expert", Integer.toString(e))
                .register(registry)).increment(tokens);
    }

    /** Prometheus text format (0.0.4): the nuri_ series, then the vllm: ones, without Micrometer's *_max gauges. */
    public String scrape() {
        return scrapeWithoutMax(nuriNames) + scrapeWithoutMax(vllmNames);
    }

    private static String scrapeWithoutMax(PrometheusMeterRegistry registry) {
        Set<String> names = registry.getPrometheusRegistry().scrape().stream().map(MetricSnapshot::getMetadata)
                .map(m -> m.getPrometheusName()).filter(name -> !name.endsWith("_max")).collect(Collectors.toSet());
        return registry.scrape(CONTENT_TYPE, names);
    }
}
