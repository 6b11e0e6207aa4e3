package dev.nuri.worker.bench;

import dev.nuri.contract.ExpertLoad;
import dev.nuri.contract.GroupPlacementSwitch;
import dev.nuri.contract.LoadBalancedPlacement;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.PlacementFile;
import dev.nuri.contract.PlacementStrategy;
import dev.nuri.contract.ShardSetting;
import dev.nuri.worker.CliFlags;
import dev.nuri.worker.group.LocalGroup;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * The skewed-load benchmark of docs/benchmarks.md: a group serving {@code tiny-axk1-skewed} (two hot experts per MoE
 * layer) under a steady closed-loop load, before and after one live rebalance from its measured expert load. Per phase:
 * each shard's share of the (token, expert) pairs, balancedness per layer (mean over max shard load) and the mean
 * decode step time; over the whole run, the requests that failed (none may, the switch included).
 * <ul>
 *   <li>Local (runtime-image/bench/rebalance.sh): a {@link LocalGroup} started here; the bench plans the new
 *       placement and switches the group itself ({@link GroupPlacementSwitch}).</li>
 *   <li>Attached ({@code --shard-urls}, hack/bench/rebalance-real-node): a group that runs elsewhere (the pods of a
 *       ModelDeployment), loaded through {@code --url} (its Service); {@code --switch-command} lets the operator
 *       rebalance it, and the bench waits until every shard routes with a newer placement generation. Each phase lasts
 *       one expert-load window, so that the window read at its end holds that phase's load only.</li>
 * </ul>
 */
public final class RebalanceBench {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private RebalanceBench() {}

    public static void main(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        System.out.printf("%d cores, load average %s%n", Runtime.getRuntime().availableProcessors(), EngineBench.loadAverage());
        if (flags.string("shard-urls", null) == null) {
            local(flags);
        } else {
            attached(flags);
        }
        System.out.printf("load average after: %s%n", EngineBench.loadAverage());
    }

    static void local(CliFlags flags) throws Exception {
        int shards = flags.integer("shards", 4);
        int redundant = flags.integer("redundant", 4);
        int seconds = flags.integer("seconds", 30);
        int streams = flags.integer("concurrency", 8);
        int experts = 16;
        PlacementFile start = PlacementStrategy.BALANCED.layout(experts, shards, redundant, 1);
        Path placement = Files.createTempFile("nuri-placement", ".json");
        Files.writeString(placement, start.toJson());
        Path logs = Files.createDirectories(Path.of(flags.string("logs", "target/bench-logs")));
        Map<String, String> env = new HashMap<>(Map.of(ShardSetting.PLACEMENT_FILE.env(), placement.toString(),
                ShardSetting.EXPERT_LOAD_WINDOW_SECONDS.env(), Integer.toString(seconds)));
        System.out.printf("local group: %d shards, %d experts + %d spare slots, %d streams, %d s per phase%n",
                shards, experts, redundant, streams, seconds);
        try (LocalGroup group = LocalGroup.start(new LocalGroup.Spec(shards, "builtin:tiny-axk1-skewed", 0, 0,
                EngineBench.ownJar(), flags.string("heap", "512m"), env, logs))) {
            group.awaitReady(Duration.ofMinutes(3));
            List<URI> urls = IntStream.range(0, shards).mapToObj(s -> URI.create("http://127.0.0.1:" + group.httpPort(s))).toList();
            GroupPlacementSwitch control = new GroupPlacementSwitch(urls, PeerKey.parse(group.peerKey()), Duration.ofSeconds(60));
            try (Load load = Load.start(urls, streams)) {
                phase("warm-up (JIT), not counted", urls, control, start, seconds, load);
                ExpertLoad before = phase("round-robin", urls, control, start, seconds, load);
                PlacementFile next = LoadBalancedPlacement.plan(before.expertWeights(),
                        new LoadBalancedPlacement.Shape(experts, shards, redundant, 4, 1), start.generation() + 1);
                long failedBefore = load.failed.get();
                long t0 = System.nanoTime();
                control.switchTo(next);
                System.out.printf("%nlive switch to generation %d: %.0f ms (prepare, commit, release on %d shards); predicted balancedness %.3f%n",
                        next.generation(), (System.nanoTime() - t0) / 1e6, shards,
                        LoadBalancedPlacement.meanBalancedness(next, before.expertWeights()));
                phase("rebalanced", urls, control, next, seconds, load);
                load.summary(failedBefore, "from the switch to the end");
            }
        }
    }

    static void attached(CliFlags flags) throws Exception {
        List<URI> urls = Arrays.stream(flags.string("shard-urls", "").split(",")).map(String::strip).map(URI::create).toList();
        String keyFile = flags.string("peer-key-file", null);
        String service = flags.string("url", null);
        String switchCommand = flags.string("switch-command", null);
        if (keyFile == null || service == null || switchCommand == null) {
            throw new IllegalArgumentException("--shard-urls needs --peer-key-file, --url (the Service) and --switch-command");
        }
        int streams = flags.integer("concurrency", 8);
        Duration switchTimeout = Duration.ofSeconds(flags.integer("switch-timeout", 600));
        GroupPlacementSwitch control = new GroupPlacementSwitch(urls, PeerKey.parse(Files.readString(Path.of(keyFile))),
                Duration.ofSeconds(60));
        int seconds = control.expertLoad().getFirst().windowSeconds();
        int warmUp = flags.integer("warm-up-seconds", seconds);
        long generation = minGeneration(urls);
        System.out.printf("attached group: %d shards at generation %d, load through %s, %d streams, %d s per phase (one load window)%n",
                urls.size(), generation, service, streams, seconds);
        try (Load load = Load.start(List.of(URI.create(service)), streams)) {
            phase("warm-up (JIT), not counted", urls, control, null, warmUp, load);
            phase("before, generation " + generation, urls, control, null, seconds, load);
            long failedBefore = load.failed.get();
            long t0 = System.nanoTime();
            System.out.printf("%n$ %s%n", switchCommand);
            Process p = new ProcessBuilder("bash", "-c", switchCommand).inheritIO().start();
            if (p.waitFor() != 0) throw new IllegalStateException("the switch command exited with " + p.exitValue());
            long deadline = System.nanoTime() + switchTimeout.toNanos();
            long now;
            while ((now = minGeneration(urls)) <= generation) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("no shard switch within " + switchTimeout);
                Thread.sleep(500);
            }
            System.out.printf("every shard routes with generation %d, %.1f s after the switch command started%n", now,
                    (System.nanoTime() - t0) / 1e9);
            phase("after, generation " + now, urls, control, null, seconds, load);
            load.summary(failedBefore, "from the switch command to the end");
        }
    }

    /** The oldest placement generation any shard of the group routes with. */
    static long minGeneration(List<URI> shards) throws Exception {
        long min = Long.MAX_VALUE;
        for (URI s : shards) min = Math.min(min, EngineBench.scrape(s).getOrDefault("nuri_placement_generation", 0.0).longValue());
        return min;
    }

    /** One phase of the running load; returns the group's expert load over it. */
    static ExpertLoad phase(String name, List<URI> shards, GroupPlacementSwitch control, PlacementFile placement, int seconds,
                            Load load) throws Exception {
        double[] stepSum0 = new double[shards.size()], stepCount0 = new double[shards.size()];
        for (int s = 0; s < shards.size(); s++) {
            Map<String, Double> m = EngineBench.scrape(shards.get(s));
            stepSum0[s] = m.getOrDefault("nuri_engine_decode_step_seconds_sum", 0.0);
            stepCount0[s] = m.getOrDefault("nuri_engine_decode_step_seconds_count", 0.0);
        }
        long tokens0 = load.tokens.get(), ok0 = load.ok.get(), failed0 = load.failed.get();
        long t0 = System.nanoTime();
        Thread.sleep(seconds * 1000L);
        ExpertLoad window = ExpertLoad.sum(control.expertLoad());
        double wall = (System.nanoTime() - t0) / 1e9;
        double stepSum = 0, stepCount = 0;
        for (int s = 0; s < shards.size(); s++) {
            Map<String, Double> m = EngineBench.scrape(shards.get(s));
            stepSum += m.getOrDefault("nuri_engine_decode_step_seconds_sum", 0.0) - stepSum0[s];
            stepCount += m.getOrDefault("nuri_engine_decode_step_seconds_count", 0.0) - stepCount0[s];
        }
        System.out.printf("%n== %s, %.0f s ==%n", name, wall);
        System.out.println("layer  share of (token, expert) pairs per shard     realized" + (placement == null ? "" : "  placement-predicted"));
        for (int layer : window.shardPairs().keySet()) {
            long[] pairs = window.shardPairs().get(layer);
            long total = Arrays.stream(pairs).sum();
            StringBuilder shares = new StringBuilder();
            for (long p : pairs) shares.append(String.format(" %5.1f%%", 100.0 * p / Math.max(1, total)));
            long max = Arrays.stream(pairs).max().orElse(0);
            double realized = max == 0 ? 1 : (double) total / pairs.length / max;
            String predicted = placement == null ? ""
                    : String.format(" %8.3f", LoadBalancedPlacement.balancedness(placement.slots(layer), window.expertWeights().get(layer)));
            System.out.printf("%5d %-40s %8.3f%s%n", layer, shares, realized, predicted);
        }
        System.out.printf("mean balancedness %.3f; %.1f tokens/s, %d requests ok, %d failed; decode-only steps %.0f, mean %.1f ms; "
                        + "load average %s%n", window.realizedBalancedness(), (load.tokens.get() - tokens0) / wall, load.ok.get() - ok0,
                load.failed.get() - failed0, stepCount, stepCount == 0 ? 0 : 1e3 * stepSum / stepCount, EngineBench.loadAverage());
        return window;
    }

    /** Closed-loop streams (one request after another each), spread over the targets, running until closed. */
    static final class Load implements AutoCloseable {
        final AtomicLong tokens = new AtomicLong(), ok = new AtomicLong(), failed = new AtomicLong();
        private final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        private final List<Future<?>> streams = new ArrayList<>();

        static Load start(List<URI> targets, int streams) {
            Load load = new Load();
            Random random = new Random(16);
            for (int c = 0; c < streams; c++) {
                String url = targets.get(c % targets.size()).toString().replaceAll("/+$", "");
                JsonObject body = new JsonObject().put("prompt", LoadMain.prompt(random, 16)).put("max_tokens", 32)
                        .put("ignore_eos", true).put("stream", true);
                load.streams.add(load.pool.submit(() -> {
                    while (!load.stop.get()) {
                        LoadMain.Outcome o = LoadMain.request(HTTP, url, null, body);
                        if (o.ok()) {
                            load.ok.incrementAndGet();
                            load.tokens.addAndGet(o.tokens());
                        } else {
                            load.failed.incrementAndGet();
                            if (load.errors.size() < 3) load.errors.add(o.error());
                        }
                    }
                    return null;
                }));
            }
            return load;
        }

        /** Stops the streams once their requests in flight have ended, and prints what the whole run saw. */
        void summary(long failedBefore, String since) throws Exception {
            close();
            System.out.printf("%nrequests over the run: %d ok, %d failed (%d of them %s)%n", ok.get(), failed.get(),
                    failed.get() - failedBefore, since);
            errors.forEach(e -> System.out.println("failed: " + e));
        }

        @Override
        public void close() throws Exception {
            stop.set(true);
            for (Future<?> f : streams) f.get();
            pool.close();
        }
    }
}
