package dev.nuri.kernels.moe;

import dev.nuri.kernels.ops.Blas1;

/**
 * Computes routed experts in-process, ggml {@code mul_mat_id} style: the batch's (token, slot) pairs are
 * bucketed by expert once, then each expert's tokens run as one matrix product, so an expert's weights
 * are streamed once per batch rather than once per token.
 */
public final class GroupedExperts implements RoutedExperts {
    private final FeedForward[][] experts; // [layer][expert]; null rows for dense layers

    public GroupedExperts(FeedForward[][] experts) {
        this.experts = experts;
    }

    FeedForward expert(int layer, int e) {
        return experts[layer][e];
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

        int maxRows = 0;
        for (int e = 0; e < numExperts; e++) maxRows = Math.max(maxRows, start[e + 1] - start[e]);
        float[] xs = new float[maxRows * h];
        float[] ys = new float[maxRows * h];
        for (int e = 0; e < numExperts; e++) {
            int m = start[e + 1] - start[e];
            if (m == 0) continue;
            for (int r = 0; r < m; r++) System.arraycopy(hidden, (entries[start[e] + r] / k) * h, xs, r * h, h);
            layerExperts[e].forward(xs, m, ys);
            for (int r = 0; r < m; r++) {
                int entry = entries[start[e] + r];
                Blas1.axpy(weights[entry], ys, r * h, out, (entry / k) * h, h);
            }
        }
    }
}
