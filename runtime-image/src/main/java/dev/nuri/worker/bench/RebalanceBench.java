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

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;

/**
 * The skewed-load benchmark of docs/benchmarks.md (runtime-image/bench/rebalance.sh): a local group serving
 * {@code tiny-axk1-skewed} (two hot experts per MoE layer) at a steady load, before and after one live rebalance from
 * its measured expert load. Per phase: each shard's share of the (token, expert) pairs, balancedness per layer (mean
 * over max shard load) and the mean decode step time.
 */
public final class RebalanceBench {
    private RebalanceBench() {}

    public static void main(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
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
        System.out.printf("%d cores; %d shards, %d experts + %d spare slots, %d streams, %d s per phase%n",
                Runtime.getRuntime().availableProcessors(), shards, experts, redundant, streams, seconds);
        try (LocalGroup group = LocalGroup.start(new LocalGroup.Spec(shards, "builtin:tiny-axk1-skewed", 0, 0,
                EngineBench.ownJar(), flags.string("heap", "512m"), env, logs))) {
            group.awaitReady(Duration.ofMinutes(3));
            GroupPlacementSwitch control = new GroupPlacementSwitch(IntStream.range(0, shards)
                    .mapToObj(s -> URI.create("http://127.0.0.1:" + group.httpPort(s))).toList(), PeerKey.parse(group.peerKey()),
                    Duration.ofSeconds(60));
            phase("warm-up (JIT), not counted", group, control, start, seconds, streams);
            ExpertLoad before = phase("round-robin", group, control, start, seconds, streams);
            PlacementFile next = LoadBalancedPlacement.plan(before.expertWeights(),
                    new LoadBalancedPlacement.Shape(experts, shards, redundant, 4, 1), start.generation() + 1);
            long t0 = System.nanoTime();
            control.switchTo(next);
            System.out.printf("%nlive switch to generation %d: %.0f ms (prepare, commit, release on %d shards); predicted balancedness %.3f%n",
                    next.generation(), (System.nanoTime() - t0) / 1e6, shards,
                    LoadBalancedPlacement.meanBalancedness(next, before.expertWeights()));
            phase("rebalanced", group, control, next, seconds, streams);
        }
    }

    /** A phase of steady load; returns the group's expert load over it. */
    static ExpertLoad phase(String name, LocalGroup group, GroupPlacementSwitch control, PlacementFile placement, int seconds,
                            int streams) throws Exception {
        int shards = group.shards();
        double[] stepSum0 = new double[shards], stepCount0 = new double[shards];
        for (int s = 0; s < shards; s++) {
            Map<String, Double> m = EngineBench.scrape(group.httpPort(s));
            stepSum0[s] = m.getOrDefault("nuri_engine_decode_step_seconds_sum", 0.0);
            stepCount0[s] = m.getOrDefault("nuri_engine_decode_step_seconds_count", 0.0);
        }
        SplittableRandom random = new SplittableRandom(16);
        AtomicBoolean stop = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong tokens = new java.util.concurrent.atomic.AtomicLong();
        List<Future<?>> clients = new ArrayList<>();
        long t0 = System.nanoTime();
        var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        for (int c = 0; c < streams; c++) {
            int port = group.httpPort(c % shards);
            int[] prompt = EngineBench.tokens(random.split(), 16);
            clients.add(pool.submit(() -> {
                while (!stop.get()) tokens.addAndGet(EngineBench.streamUnchecked(port, prompt, 32, stop).tokenNanos().size());
                return null;
            }));
        }
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        for (Future<?> f : clients) f.get();
        pool.close();
        double wall = (System.nanoTime() - t0) / 1e9;
        ExpertLoad load = ExpertLoad.sum(control.expertLoad());
        double stepSum = 0, stepCount = 0;
        for (int s = 0; s < shards; s++) {
            Map<String, Double> m = EngineBench.scrape(group.httpPort(s));
            stepSum += m.getOrDefault("nuri_engine_decode_step_seconds_sum", 0.0) - stepSum0[s];
            stepCount += m.getOrDefault("nuri_engine_decode_step_seconds_count", 0.0) - stepCount0[s];
        }
        System.out.printf("%n== %s (generation %d), %.0f s ==%n", name, placement.generation(), wall);
        System.out.println("layer  share of (token, expert) pairs per shard     realized  placement-predicted");
        for (int layer : load.shardPairs().keySet()) {
            long[] pairs = load.shardPairs().get(layer);
            long total = Arrays.stream(pairs).sum();
            StringBuilder shares = new StringBuilder();
            for (long p : pairs) shares.append(String.format(" %5.1f%%", 100.0 * p / Math.max(1, total)));
            long max = Arrays.stream(pairs).max().orElse(0);
            double realized = max == 0 ? 1 : (double) total / pairs.length / max;
            double predicted = LoadBalancedPlacement.balancedness(placement.slots(layer), load.expertWeights().get(layer));
            System.out.printf("%5d %-40s %8.3f %8.3f%n", layer, shares, realized, predicted);
        }
        System.out.printf("mean balancedness %.3f; %.1f tokens/s; decode-only steps %.0f, mean %.1f ms%n", load.realizedBalancedness(),
                tokens.get() / wall, stepCount, stepCount == 0 ? 0 : 1e3 * stepSum / stepCount);
        return load;
    }
}
