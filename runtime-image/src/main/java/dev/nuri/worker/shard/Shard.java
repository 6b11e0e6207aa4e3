package dev.nuri.worker.shard;

import dev.nuri.contract.Frame;
import dev.nuri.contract.InvalidPlacementException;
import dev.nuri.contract.PlacementFile;
import dev.nuri.contract.PlacementStrategy;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;
import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.ModelConfig;
import dev.nuri.worker.api.ApiServer;
import dev.nuri.worker.api.HttpSettings;
import dev.nuri.worker.engine.Engine;
import dev.nuri.worker.engine.EngineSettings;
import dev.nuri.worker.engine.KvCacheBudget;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.moe.ExpertDispatcher;
import dev.nuri.worker.moe.ExpertHost;
import dev.nuri.worker.moe.MoeLoad;
import dev.nuri.worker.placement.InternalApi;
import dev.nuri.worker.placement.PlacementWatcher;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.tools.ToolCallFormat;
import dev.nuri.worker.transport.ExpertServer;
import dev.nuri.worker.transport.PeerLink;
import dev.nuri.worker.transport.ShardIdentity;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/**
 * One shard process: loads the model and its experts, connects to the other shards of its group, and serves the
 * OpenAI API. Serving-ready once loaded and connected to every peer.
 */
public final class Shard implements AutoCloseable {

    /** The most tokens one engine step can send a peer, so the most a peer's frames must accept. */
    public static int maxStepTokens(int contextLength, int maxBatch, int maxBatchedTokens) {
        return Math.max(contextLength, Math.max(maxBatch, maxBatchedTokens));
    }

    private static final Logger LOG = Logger.getLogger(Shard.class.getName());

    private final ShardSettings settings;
    private final ModelPlan plan;
    private final Vertx vertx;
    private final int shardIndex;
    private final int shards;
    private final String modelName;
    private final WorkerMetrics metrics;
    private final ApiServer api;
    private final AtomicReference<PlacementFile> placement = new AtomicReference<>();
    private final List<PeerLink> links = new ArrayList<>();
    private volatile String loadingState = "starting";
    private volatile boolean loaded;
    private volatile boolean draining;
    private final ToolCallFormat toolCallFormat;
    private volatile Engine engine;
    private volatile ExpertServer expertServer;
    private volatile PlacementWatcher watcher;
    private volatile NetClient netClient;
    private volatile MoeLoad moeLoad;

    private Shard(ShardSettings settings, ModelPlan plan) {
        this.settings = settings;
        this.plan = plan;
        this.shardIndex = settings.shardIndex();
        this.shards = settings.shards();
        String model = settings.model();
        String served = settings.string(ShardSetting.SERVED_MODEL_NAME);
        this.modelName = served != null ? served
                : model.startsWith("builtin:") ? model.substring("builtin:".length()) : Path.of(model).getFileName().toString();
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(2));
        this.metrics = new WorkerMetrics(modelName, shardIndex);
        this.toolCallFormat = ToolCallFormat.of(settings.toolCallParser());
        this.api = new ApiServer(vertx, metrics, this::notReadyReason, this::refusalReason, HttpSettings.from(settings),
                this::beforeScrape, settings.apiKey());
    }

    /**
     * Checks the settings against the model's config.json, starts the HTTP server (liveness, readiness, metrics), then
     * loads the weights in the background.
     *
     * @throws IllegalArgumentException a setting is invalid or contradicts the model (nothing is left running)
     */
    public static Shard start(ShardSettings settings) {
        return start(settings, () -> {});
    }

    /**
     * @param onLoadFailure runs when loading fails (model missing, port taken...). A shard process
     *                      exits here, so Kubernetes restarts it and reports the crash instead of
     *                      keeping a pod that is alive but can never become ready.
     */
    public static Shard start(ShardSettings settings, Runnable onLoadFailure) {
        settings.validate();
        for (String unknown : settings.unknownVariables()) {
            LOG.warning("ignoring " + unknown + ": no such setting (the settings are listed in runtime-image/PLACEMENT.md)");
        }
        ModelPlan plan = ModelPlan.resolve(settings);
        Shard shard = new Shard(settings, plan);
        await(shard.api.listen(settings.bindHost(), settings.port()).toCompletionStage().toCompletableFuture());
        String batchDir = settings.string(ShardSetting.BATCH_DIR);
        if (batchDir != null) {
            shard.api.batches(new dev.nuri.worker.batch.BatchService.Settings(Path.of(batchDir),
                    settings.positive(ShardSetting.BATCH_MAX_FILE_BYTES), (int) settings.positive(ShardSetting.BATCH_CONCURRENCY),
                    java.time.Duration.ofSeconds(settings.positive(ShardSetting.BATCH_WINDOW_SECONDS))),
                    settings.bindHost());
        }
        LOG.info("shard " + shard.shardIndex + "/" + shard.shards + " of group " + settings.groupIndex() + ": HTTP on "
                + settings.bindHost() + ":" + shard.api.actualPort() + ", loading " + settings.model()
                + (plan.quantization() != null ? " (quantization " + plan.quantization().value()
                        + (plan.quantizeLmHead() ? ", lm_head too" : "") + ")" : "")
                + (settings.apiKey() != null ? ", API key required" : ""));
        Thread.ofPlatform().name("nuri-loader").start(() -> {
            try {
                shard.load();
            } catch (RuntimeException e) {
                shard.loadingState = "failed to load: " + e.getMessage();
                LOG.severe("shard " + shard.shardIndex + " " + shard.loadingState);
                onLoadFailure.run();
            }
        });
        return shard;
    }

    private void load() {
        long t0 = System.nanoTime();
        String model = settings.model();
        loadingState = "loading model " + model;
        long ticker = vertx.setPeriodic(5000, id -> LOG.info(String.format("shard %d: still loading %s (%.0f s)", shardIndex, model,
                (System.nanoTime() - t0) / 1e9)));
        if (settings.kernelThreads() > 0) KernelPool.configure(settings.kernelThreads());
        LOG.info("shard " + shardIndex + ": kernels on " + KernelPool.global().threads() + " threads"
                + (settings.kernelThreads() > 0 ? " (" + ShardSetting.KERNEL_THREADS.env() + ")" : " (the CPUs this container may use)"));
        CausalLm lm = plan.load();
        ModelTokenizer tokenizer = plan.dir() == null
                ? ModelTokenizer.builtin(tokenizerOr(model.substring("builtin:".length())))
                : ModelTokenizer.load(Path.of(tokenizerOr(plan.dir().toString())));
        vertx.cancelTimer(ticker);
        ModelConfig config = lm.config();
        LOG.info(String.format("shard %d: model %s loaded in %.1f s (%s, %d layers, %d experts top-%d, vocab %d, context %d)",
                shardIndex, modelName, (System.nanoTime() - t0) / 1e9, config.modelType(), config.numLayers(),
                config.numExperts(), config.topK(), config.vocabSize(), plan.contextLength())
                + (plan.contextLength() < config.maxPositionEmbeddings() ? " of " + config.maxPositionEmbeddings() : ""));

        loadingState = "placing experts";
        Path placementFile = settings.placementFile();
        String placementText = null;
        if (placementFile != null) {
            try {
                placementText = Files.readString(placementFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read placement file " + placementFile, e);
            }
            placement.set(PlacementFile.parse(placementText).validateFor(config.numExperts(), shards, config.moeLayers()));
        } else {
            placement.set(PlacementStrategy.STATIC.layout(config.numExperts(), shards, 0, 0));
        }
        ExpertHost host = new ExpertHost(lm, shardIndex, placement.get());
        metrics.gauge("nuri.placement_generation", "Generation of the expert placement in force", () -> host.active().placement().generation());
        MoeLoad load = new MoeLoad(config.numExperts(), shards, config.numLayers(), config.moeLayers(),
                Duration.ofSeconds(settings.integer(ShardSetting.EXPERT_LOAD_WINDOW_SECONDS)), metrics);
        metrics.gauge("nuri.expert_weight_bytes", "Bytes of routed-expert weights the placement in force gives this shard", host::activeBytes);
        moeLoad = load;
        PeerLink[] peerLinks = new PeerLink[shards];
        if (shards > 1) {
            ShardIdentity identity = new ShardIdentity(settings.groupIndex(), shardIndex, modelFingerprint(config));
            // a step carries up to max(maxBatchedTokens, maxBatch) tokens (decodes never wait); a peer that accepts fewer
            // drops the link whenever prefills of many requests share a step (hack/soak: context 1024 < 2048 tokens)
            Frame.Limits limits = new Frame.Limits(config.hiddenSize(), maxStepTokens(plan.contextLength(), settings.maxBatch(),
                    settings.maxBatchedTokens()), config.topK(), config.numExperts());
            expertServer = new ExpertServer(host, identity, shards, settings.peerKey(), limits, metrics.expertComputeForPeers,
                    (from, peer) -> {
                        if (peerLinks[peer] != null) peerLinks[peer].peerCalledFrom(from); // a restarted peer's new address
                    });
            await(expertServer.listen(settings.bindHost(), settings.peerPort()).toCompletionStage().toCompletableFuture());
            netClient = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(2000).setTcpKeepAlive(true));
            List<String> peers = settings.peers();
            for (int s = 0; s < shards; s++) {
                if (s == shardIndex) continue;
                peerLinks[s] = new PeerLink(vertx, netClient, identity, settings.peerKey(), limits, s, peers.get(s));
                links.add(peerLinks[s]);
            }
            links.forEach(PeerLink::start);
            LOG.info("shard " + shardIndex + ": expert server on " + settings.bindHost() + ":" + expertServer.actualPort()
                    + ", connecting to peers " + peers);
        }
        ExpertDispatcher dispatcher = new ExpertDispatcher(shardIndex, host, peerLinks,
                settings.wireDType(), Duration.ofSeconds(settings.integer(ShardSetting.PEER_TIMEOUT_SECONDS)), metrics, load,
                settings.twoBatchOverlapMinTokens());
        KvCacheBudget kv = KvCacheBudget.of(settings.kvCacheTokens(), settings.kvCacheMemoryFraction(), settings.kvBlockSize(),
                lm.kvCacheBytesPerToken(), settings.kvCacheTokens() == 0 ? KvCacheBudget.freeHeapBytes() : 0);
        LOG.info(String.format("shard %d: KV cache of %d blocks x %d tokens = %d tokens (%d MiB)%s, prefix caching %s", shardIndex,
                kv.blocks(), kv.blockSize(), kv.tokens(), kv.tokens() * lm.kvCacheBytesPerToken() >> 20,
                kv.derived() ? ", " + settings.kvCacheMemoryFraction() + " of the free heap" : "", settings.prefixCaching() ? "on" : "off"));
        engine = new Engine(lm, dispatcher, tokenizer, new EngineSettings(kv.blocks(), kv.blockSize(), settings.prefixCaching(),
                settings.maxBatch(), settings.integer(ShardSetting.MAX_WAITING), settings.maxBatchedTokens(),
                plan.contextLength(), settings.batchStepTokens()), metrics);
        api.internal(new InternalApi(vertx, settings.peerKey(), shardIndex, host, dispatcher, load,
                p -> p.validateFor(config.numExperts(), shards, config.moeLayers())));
        api.serving(new ApiServer.Serving(modelName, tokenizer, engine, settings.integer(ShardSetting.DEFAULT_MAX_TOKENS), toolCallFormat));
        if (placementFile != null) {
            watcher = new PlacementWatcher(vertx, placementFile, placementText, 1000, next -> {
                try {
                    next.validateFor(config.numExperts(), shards, config.moeLayers());
                    host.reload(next);
                } catch (InvalidPlacementException e) {
                    LOG.warning("ignoring new placement: " + e.getMessage());
                }
            });
        }
        loaded = true;
        loadingState = "loaded";
        LOG.info(String.format("shard %d: ready to serve once all peers are connected (%.1f s since start)", shardIndex,
                (System.nanoTime() - t0) / 1e9));
    }

    private String tokenizerOr(String dflt) {
        String t = settings.string(ShardSetting.TOKENIZER);
        return t != null ? t : dflt;
    }

    /**
     * What two shards must agree on to exchange hidden vectors: the model's shapes (type, sizes, experts, MoE layers).
     * The placement is not part of it: shards pick up a new placement at slightly different times.
     */
    public static long modelFingerprint(ModelConfig c) {
        String shape = c.modelType() + "|" + c.hiddenSize() + "|" + c.numLayers() + "|" + c.numExperts() + "|" + c.topK()
                + "|" + c.moeIntermediateSize() + "|" + c.vocabSize() + "|" + java.util.Arrays.toString(c.moeLayers());
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(shape.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.nio.ByteBuffer.wrap(d).getLong();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Null when serving-ready; otherwise the reason, as /health/ready reports it. */
    public String notReadyReason() {
        if (draining) return "draining before shutdown";
        return refusalReason();
    }

    /**
     * Null when a request can be served here. A draining shard still serves: requests routed to it
     * before the Service's endpoints caught up complete, since its peers drain with it.
     */
    String refusalReason() {
        if (!loaded) return loadingState;
        List<String> missing = new ArrayList<>();
        for (PeerLink l : links) {
            if (!l.connected()) missing.add("shard " + l.peerShard() + " at " + l.address() + " (" + l.lastError() + ")");
        }
        return missing.isEmpty() ? null : "waiting for peer " + String.join(", ", missing);
    }

    private void beforeScrape() {
        // per-expert counters are folded in at scrape time rather than on the hot path
        MoeLoad l = moeLoad;
        if (l != null) l.flush();
    }

    public ApiServer api() {
        return api;
    }

    public int httpPort() {
        return api.actualPort();
    }

    public Engine engine() {
        return engine;
    }

    /** Graceful stop: refuse new requests, let admitted ones finish (up to the grace period), then close. */
    public void drainAndClose(Duration grace) {
        draining = true; // readiness off: the Service stops routing new requests here
        api.drain();     // and kept-alive clients reconnect elsewhere
        Engine e = engine;
        if (e != null) {
            shutdownLog("draining (" + e.runningCount() + " running, " + e.waitingCount() + " waiting, grace " + grace + ")");
            try {
                shutdownLog(awaitGroupQuiet(e, grace) ? "drained: no request here and no expert call from a peer for "
                        + GROUP_QUIET.toSeconds() + " s" : "drain grace of " + grace + " elapsed with work still running");
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        close();
    }

    /**
     * How long the shards of a group must all have been idle before a draining shard exits. A
     * group's pods stop together (a rollout or scale-down deletes them all): a shard with nothing
     * of its own to finish still computes its experts for its peers' requests, so it waits until
     * no peer has called it for this long. Seen on a real node: shards that exited as soon as their
     * own requests were done failed the requests still running on their peers with 503.
     */
    static final Duration GROUP_QUIET = Duration.ofSeconds(3);

    private boolean awaitGroupQuiet(Engine e, Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        long quietSince = System.nanoTime();
        long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            ExpertServer server = expertServer;
            if (System.nanoTime() - nextReport > 0) {
                nextReport += TimeUnit.SECONDS.toNanos(10);
                shutdownLog("still draining: " + e.runningCount() + " running, " + e.waitingCount() + " waiting, last expert call from a peer "
                        + (server == null ? "never" : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - server.lastDispatchNanos()) + " ms ago"));
            }
            if (e.runningCount() > 0 || e.waitingCount() > 0) {
                quietSince = System.nanoTime();
            } else if (server != null && server.lastDispatchNanos() - quietSince > 0) {
                quietSince = server.lastDispatchNanos(); // a peer still runs requests that need our experts
            } else if (System.nanoTime() - quietSince >= GROUP_QUIET.toNanos()) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    @Override
    public void close() {
        draining = true;
        shutdownLog("stopping");
        if (watcher != null) watcher.close();
        if (engine != null) engine.close();
        links.forEach(PeerLink::close);
        if (expertServer != null) expertServer.close();
        try {
            vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warning("vert.x did not close cleanly: " + e);
        }
    }

    /** JUL resets its handlers in its own shutdown hook, so messages written while draining go to stderr directly. */
    private void shutdownLog(String message) {
        System.err.printf("%tT INFO shard %d: %s%n", System.currentTimeMillis(), shardIndex, message);
    }

    private static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("startup step failed: " + (e.getCause() != null ? e.getCause().getMessage() : e), e);
        }
    }
}
