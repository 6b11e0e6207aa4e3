package dev.nuri.kernels.attention;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;
import dev.nuri.kernels.ops.Rope;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/**
 * Grouped-query attention (Mixtral; Qwen3 adds an RMSNorm over each q and k head before RoPE).
 * Query head h reads key/value head h / (heads / kvHeads).
 */
public final class GroupedQueryAttention implements Attention, HeadSplit.Heads {
    private final int layer, heads, kvHeads, headDim;
    private final WeightMatrix qProj, kProj, vProj, oProj;
    private final float[] qNorm, kNorm; // null without q/k norm
    private final float eps, scaling;
    private final Rope rope;

    public GroupedQueryAttention(int layer, int heads, int kvHeads, int headDim, WeightMatrix qProj, WeightMatrix kProj,
                                 WeightMatrix vProj, WeightMatrix oProj, float[] qNorm, float[] kNorm, float eps,
                                 Rope rope) {
        this.layer = layer;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.qProj = qProj;
        this.kProj = kProj;
        this.vProj = vProj;
        this.oProj = oProj;
        this.qNorm = qNorm;
        this.kNorm = kNorm;
        this.eps = eps;
        this.scaling = (float) (1.0 / Math.sqrt(headDim));
        this.rope = rope;
    }

    @Override
    public int keyWidth() {
        return kvHeads * headDim;
    }

    @Override
    public int valueWidth() {
        return kvHeads * headDim;
    }

    @Override
    public void forward(float[] x, int n, KvCache[] caches, int[] positions, float[] out) {
        int qw = heads * headDim, kw = kvHeads * headDim;
        float[] q = Scratch.floats(Scratch.Slot.ATTN_Q, n * qw);
        float[] k = Scratch.floats(Scratch.Slot.ATTN_K, n * kw);
        float[] v = Scratch.floats(Scratch.Slot.ATTN_V, n * kw);
        qProj.matmul(x, n, q);
        kProj.matmul(x, n, k);
        vProj.matmul(x, n, v);
        for (int t = 0; t < n; t++) {
            int p = positions[t];
            for (int h = 0; h < heads; h++) {
                int o = t * qw + h * headDim;
                if (qNorm != null) Norms.rmsNorm(q, o, qNorm, eps, q, o, headDim);
                rope.apply(q, o, p);
            }
            for (int h = 0; h < kvHeads; h++) {
                int o = t * kw + h * headDim;
                if (kNorm != null) Norms.rmsNorm(k, o, kNorm, eps, k, o, headDim);
                rope.apply(k, o, p);
            }
            KvCache c = caches[t];
            int row = (p % c.blockSize()) * kw;
            System.arraycopy(k, t * kw, c.keys(layer, p), row, kw);
            System.arraycopy(v, t * kw, c.values(layer, p), row, kw);
        }
        float[] attn = Scratch.floats(Scratch.Slot.ATTN_OUT, n * qw);
        long positionsRead = 0;
        for (int t = 0; t < n; t++) positionsRead += positions[t] + 1;
        // over (row, head) pairs on the kernel pool; each head reads its key and value floats of every position
        HeadSplit.run(this, q, caches, positions, n, attn, n * heads, true, positionsRead * heads * headDim * 8);
        oProj.matmul(attn, n, out);
    }

    /**
     * Query heads [u0, u1) of the batch, unit u = row u / heads, head u % heads: each head's scores, softmax and
     * weighted sum of values, into its own slice of attn. A unit computes the same sums in the same order wherever
     * it runs, so the output does not depend on how the units are split.
     */
    @Override
    public void attend(float[] q, KvCache[] caches, int[] positions, int n, float[] attn, int u0, int u1, float[][] scratch) {
        int qw = heads * headDim, kw = kvHeads * headDim, group = heads / kvHeads;
        for (int u = u0; u < u1; u++) {
            int t = u / heads, h = u - t * heads;
            KvCache c = caches[t];
            int len = positions[t] + 1, bs = c.blockSize();
            if (scratch[0].length < len) scratch[0] = new float[Math.max(len, 2 * scratch[0].length)]; // grows, then stays
            float[] scores = scratch[0];
            int qo = t * qw + h * headDim;
            int ko = (h / group) * headDim;
            for (int b = 0; b < len; b += bs) { // one block of positions at a time
                float[] kc = c.keys(layer, b);
                for (int s = b, r = ko; s < Math.min(len, b + bs); s++, r += kw) scores[s] = Blas1.dot(q, qo, kc, r, headDim) * scaling;
            }
            Activations.softmax(scores, 0, len);
            java.util.Arrays.fill(attn, qo, qo + headDim, 0f); // attn is a reused buffer: the sum starts here
            for (int b = 0; b < len; b += bs) Blas1.axpyRows(scores, b, Math.min(len, b + bs) - b, c.values(layer, b), ko, kw, attn, qo, headDim);
        }
    }
}
