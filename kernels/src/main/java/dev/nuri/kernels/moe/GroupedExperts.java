package dev.nuri.kernels.moe;

import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Scratch;

/**
 * Computes routed experts in-process, ggml {@code mul_mat_id} style: the batch's (token, slot) pairs are
 * bucketed by expert once, then each expert's tokens run as one matrix product, so an expert's weights
 * are streamed once per batch rather than once per token. With at least as many experts in the batch as
 * kernel threads, the experts run on the threads side by side; otherwise each product is split over rows.
 */
public final class GroupedExperts implements RoutedExperts {
    private final FeedForward[][] experts; // [layer][expert]; null rows for dense layers
    private final FeedForward[][] stored;  // the checkpoint's own weights, to go back to when an expert is released
    private final boolean quantizeQ8_0;
    private final boolean[][] prepared; // [layer][expert]: ready (quantised when asked)

    public GroupedExperts(FeedForward[][] experts) {
        this(experts, false);
    }

    /** @param quantizeQ8_0 quantise each expert to Q8_0 when it is first {@link #prepare prepared}, not before */
    public GroupedExperts(FeedForward[][] experts, boolean quantizeQ8_0) {
        this.experts = experts;
        this.quantizeQ8_0 = quantizeQ8_0;
        this.stored = new FeedForward[experts.length][];
        this.prepared = new boolean[experts.length][];
        for (int layer = 0; layer < experts.length; layer++) {
            if (experts[layer] == null) continue;
            stored[layer] = experts[layer].clone();
            prepared[layer] = new boolean[experts[layer].length];
        }
    }

    FeedForward expert(int layer, int e) {
        return experts[layer][e];
    }

    /**
     * Makes these experts ready to compute in every MoE layer (see {@link #prepare(int, int[])}).
     */
    public void prepare(int[] ids) {
        for (int layer = 0; layer < experts.length; layer++) if (experts[layer] != null) prepare(layer, ids);
    }

    /**
     * Makes these experts of one layer ready to compute: with Q8_0 asked for, quantises each once and gives back the
     * checkpoint pages it was read from, so a shard holds its own (layer, expert) weights in Q8_0 and nothing of the
     * others (their pages are never touched). Idempotent; a shard calls it for what its placement gives it.
     */
    public synchronized void prepare(int layer, int[] ids) {
        FeedForward[] layerExperts = experts[layer];
        if (layerExperts == null) throw new IllegalArgumentException("layer " + layer + " is not an MoE layer");
        boolean quantized = false;
        for (int e : ids) {
            if (e < 0 || e >= layerExperts.length) throw new IllegalArgumentException("expert " + e + " does not exist; the model has " + layerExperts.length);
            if (prepared[layer][e]) continue;
            if (quantizeQ8_0) {
                FeedForward f = layerExperts[e];
                layerExperts[e] = new FeedForward(f.gate().requantizedQ8_0(), f.up().requantizedQ8_0(), f.down().requantizedQ8_0());
                quantized = true;
            }
            prepared[layer][e] = true;
        }
        if (quantized) {
            // again once all are made: reading an expert faulted back in the last pages of the one stored before it
            // (about 32 KB an expert matrix: 53 MB of the benchmark model's 1.78 GB file stayed resident)
            for (int e : ids) {
                FeedForward f = stored[layer][e];
                f.gate().releaseCheckpointPages();
                f.up().releaseCheckpointPages();
                f.down().releaseCheckpointPages();
            }
        }
    }

    /**
     * Gives back what {@link #prepare} made for these experts of one layer once no placement holds them: the Q8_0
     * copy is dropped (the checkpoint's pages were given back when it was made and stay out). A later prepare makes
     * it again. Only for experts no computation can still reach.
     */
    public synchronized void release(int layer, int[] ids) {
        for (int e : ids) {
            if (!prepared[layer][e]) continue;
            experts[layer][e] = stored[layer][e];
            prepared[layer][e] = false;
        }
    }

    /** Every expert (one process computing all of them). */
    public void prepareAll() {
        int n = 0;
        for (FeedForward[] layer : experts) if (layer != null) n = Math.max(n, layer.length);
        int[] all = new int[n];
        for (int e = 0; e < all.length; e++) all[e] = e;
        prepare(all);
    }

    public int numExperts(int layer) {
        return experts[layer] == null ? 0 : experts[layer].length;
    }

    @Override
    public void apply(int layer, int tokens, int k, float[] hidden, int[] ids, float[] weights, float[] out) {
        FeedForward[] layerExperts = experts[layer];
        if (layerExperts == null) throw new IllegalArgumentException("layer " + layer + " is not an MoE layer");
        int numExperts = layerExperts.length;
        int h = layerExperts[0].hidden();
        // counting sort of the entries by expert
        int[] start = new int[numExperts + 1];
        for (int i = 0; i < tokens * k; i++) {
            int e = ids[i];
            if (e == -1) continue;
            if (e < 0 || e >= numExperts) throw new IllegalArgumentException("expert id " + e + " out of range 0.." + (numExperts - 1));
            start[e + 1]++;
        }
        for (int e = 0; e < numExperts; e++) start[e + 1] += start[e];
        int[] fill = start.clone();
        int[] entries = new int[start[numExperts]];
        for (int i = 0; i < tokens * k; i++) if (ids[i] != -1) entries[fill[ids[i]]++] = i;

        int[] active = new int[numExperts];
        int nActive = 0;
        for (int e = 0; e < numExperts; e++) {
            if (start[e + 1] == start[e]) continue;
            if (!prepared[layer][e]) prepare(layer, new int[] {e}); // a caller that did not prepare it: once, not on every step
            active[nActive++] = e;
        }
        // in waves of consecutive experts whose outputs fit the thread's kept buffer, so that a long prefill chunk
        // does not allocate every (token, slot) output at once; a wave holds at least as many experts as threads,
        // so that they still run side by side. The sums are combined in expert order, wave after wave: the same
        // order as one wave, with any number of threads.
        KernelPool pool = KernelPool.global();
        int maxRows = Math.max(1, Scratch.keptFloats(Scratch.Slot.EXPERT_OUTPUTS) / h);
        for (int a0 = 0; a0 < nActive; ) {
            int from = start[active[a0]], a1 = a0 + 1;
            while (a1 < nActive && (a1 - a0 < pool.threads() || start[active[a1] + 1] - from <= maxRows)) a1++;
            int to = start[active[a1 - 1] + 1], first = a0, count = a1 - a0;
            long bytes = 0;
            for (int i = a0; i < a1; i++) bytes += layerExperts[active[i]].bytes();
            float[] ys = Scratch.floats(Scratch.Slot.EXPERT_OUTPUTS, (to - from) * h);
            if (count >= pool.threads() && pool.chunks(bytes, count) > 1) {
                // experts over threads: each expert writes its own rows of ys; fewer experts than threads split
                // each product over rows instead (below)
                pool.run(count, i -> {
                    int e = active[first + i];
                    runExpert(layerExperts[e], start[e], start[e + 1], entries, k, hidden, h, ys, from);
                });
            } else {
                for (int i = a0; i < a1; i++) {
                    int e = active[i];
                    runExpert(layerExperts[e], start[e], start[e + 1], entries, k, hidden, h, ys, from);
                }
            }
            for (int i = from; i < to; i++) {
                int entry = entries[i];
                Blas1.axpy(weights[entry], ys, (i - from) * h, out, (entry / k) * h, h);
            }
            a0 = a1;
        }
    }

    /** ys rows [from - base, to - base) = expert(hidden rows of the entries [from, to)). */
    private static void runExpert(FeedForward expert, int from, int to, int[] entries, int k, float[] hidden, int h,
                                  float[] ys, int base) {
        int m = to - from;
        float[] xs = Scratch.floats(Scratch.Slot.EXPERT_IN, m * h), y = Scratch.floats(Scratch.Slot.EXPERT_OUT, m * h);
        for (int r = 0; r < m; r++) System.arraycopy(hidden, (entries[from + r] / k) * h, xs, r * h, h);
        expert.forward(xs, m, y);
        System.arraycopy(y, 0, ys, (from - base) * h, m * h);
    }
}
