package dev.nuri.worker.moe;

import dev.nuri.worker.metrics.WorkerMetrics;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts what the router chose on this shard: tokens per expert, and (token, expert) pairs per shard per layer, from
 * which balancedness = mean shard load / max shard load (DeepSeek's EPLB measure), averaged over layers.
 */
public final class MoeLoad {
    private final int numExperts;
    private final int shards;
    private final int maxLayers;
    private final AtomicLongArray perExpert;
    private final AtomicLongArray perLayerShard;
    private final AtomicLongArray flushed;

    public MoeLoad(int numExperts, int shards, int maxLayers, WorkerMetrics metrics) {
        this.numExperts = numExperts;
        this.shards = shards;
        this.maxLayers = maxLayers;
        this.perExpert = new AtomicLongArray(numExperts);
        this.flushed = new AtomicLongArray(numExperts);
        this.perLayerShard = new AtomicLongArray(maxLayers * shards);
        metrics.gauge("nuri.moe_balancedness", "Mean over max (token, expert) pairs per shard, averaged over MoE layers; 1 is perfect", this::balancedness);
        metrics.gauge("nuri.moe_expert_tokens_max_over_mean", "Hottest expert's token count over the mean", this::expertSkew);
        this.metrics = metrics;
    }

    private final WorkerMetrics metrics;

    void record(int layer, int[] experts, int[] shardOfSlot) {
        for (int e : experts) perExpert.incrementAndGet(e);
        if (layer < maxLayers) {
            for (int s : shardOfSlot) perLayerShard.incrementAndGet(layer * shards + s);
        }
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
