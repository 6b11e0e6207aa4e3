package dev.nuri.worker.moe;

import dev.nuri.contract.ExpertLoad;
import dev.nuri.worker.metrics.WorkerMetrics;

import java.time.Duration;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts what the router chose on this shard: tokens per expert, and (token, expert) pairs per shard per layer, from
 * which balancedness = mean shard load / max shard load (DeepSeek's EPLB measure), averaged over layers. Besides the
 * totals since start (metrics), the same counts per (layer, expert) over a sliding window, kept in
 * {@value #BUCKETS} buckets that age out one by one, for {@code /v1/internal/expert-load}.
 */
public final class MoeLoad {
    static final int BUCKETS = 6;

    private final int numExperts;
    private final int shards;
    private final int maxLayers;
    private final int[] moeLayers;
    private final AtomicLongArray perExpert;
    private final AtomicLongArray perLayerShard;
    private final AtomicLongArray flushed;
    private final WorkerMetrics metrics;
    private final long bucketNanos;
    private final int windowSeconds;
    private final long[][] windowExperts = new long[BUCKETS][];   // [bucket][layer * experts + expert]
    private final long[][] windowShards = new long[BUCKETS][];    // [bucket][layer * shards + shard]
    private final long[] bucketEpoch = new long[BUCKETS];

    public MoeLoad(int numExperts, int shards, int maxLayers, int[] moeLayers, Duration window, WorkerMetrics metrics) {
        this.numExperts = numExperts;
        this.shards = shards;
        this.maxLayers = maxLayers;
        this.moeLayers = moeLayers.clone();
        this.perExpert = new AtomicLongArray(numExperts);
        this.flushed = new AtomicLongArray(numExperts);
        this.perLayerShard = new AtomicLongArray(maxLayers * shards);
        this.windowSeconds = (int) window.toSeconds();
        this.bucketNanos = Math.max(1, window.toNanos() / BUCKETS);
        for (int b = 0; b < BUCKETS; b++) {
            windowExperts[b] = new long[maxLayers * numExperts];
            windowShards[b] = new long[maxLayers * shards];
            bucketEpoch[b] = Long.MIN_VALUE;
        }
        metrics.gauge("nuri.moe_balancedness", "Mean over max (token, expert) pairs per shard, averaged over MoE layers; 1 is perfect", this::balancedness);
        metrics.gauge("nuri.moe_expert_tokens_max_over_mean", "Hottest expert's token count over the mean", this::expertSkew);
        this.metrics = metrics;
    }

    void record(int layer, int[] experts, int[] shardOfSlot) {
        for (int e : experts) perExpert.incrementAndGet(e);
        if (layer >= maxLayers) return;
        for (int s : shardOfSlot) perLayerShard.incrementAndGet(layer * shards + s);
        synchronized (this) {
            int b = bucket(System.nanoTime());
            long[] ex = windowExperts[b], sh = windowShards[b];
            for (int e : experts) ex[layer * numExperts + e]++;
            for (int s : shardOfSlot) sh[layer * shards + s]++;
        }
    }

    /** The bucket of this moment, emptied first if it last held counts of an earlier turn of the ring. */
    private int bucket(long now) {
        long epoch = Math.floorDiv(now, bucketNanos);
        int b = (int) Math.floorMod(epoch, BUCKETS);
        if (bucketEpoch[b] != epoch) {
            java.util.Arrays.fill(windowExperts[b], 0);
            java.util.Arrays.fill(windowShards[b], 0);
            bucketEpoch[b] = epoch;
        }
        return b;
    }

    /** The counts of the last window (the current bucket included), as the internal endpoint serves them. */
    public synchronized ExpertLoad window(int shard, long generation) {
        long epoch = Math.floorDiv(System.nanoTime(), bucketNanos);
        SortedMap<Integer, long[]> experts = new TreeMap<>(), pairs = new TreeMap<>();
        for (int layer : moeLayers) {
            long[] e = new long[numExperts], s = new long[shards];
            for (int b = 0; b < BUCKETS; b++) {
                if (bucketEpoch[b] <= epoch - BUCKETS) continue; // aged out
                for (int i = 0; i < numExperts; i++) e[i] += windowExperts[b][layer * numExperts + i];
                for (int i = 0; i < shards; i++) s[i] += windowShards[b][layer * shards + i];
            }
            experts.put(layer, e);
            pairs.put(layer, s);
        }
        return new ExpertLoad(shard, generation, windowSeconds, experts, pairs);
    }

    /** Moves the per-expert counts into the Prometheus counters (called at scrape time, not per token). */
    public void flush() {
        for (int e = 0; e < numExperts; e++) {
            long now = perExpert.get(e);
            long delta = now - flushed.getAndSet(e, now);
            if (delta > 0 || now == 0) metrics.expertTokens(e, delta);
        }
    }

    public double balancedness() {
        double sum = 0;
        int layers = 0;
        for (int l = 0; l < maxLayers; l++) {
            long max = 0, total = 0;
            for (int s = 0; s < shards; s++) {
                long v = perLayerShard.get(l * shards + s);
                max = Math.max(max, v);
                total += v;
            }
            if (max == 0) continue;
            sum += (double) total / shards / max;
            layers++;
        }
        return layers == 0 ? 1.0 : sum / layers;
    }

    private double expertSkew() {
        long max = 0, total = 0;
        for (int e = 0; e < numExperts; e++) {
            max = Math.max(max, perExpert.get(e));
            total += perExpert.get(e);
        }
        return total == 0 ? 1.0 : max / ((double) total / numExperts);
    }
}
