package dev.nuri.kernels.attention;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.AttentionScores;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;
import dev.nuri.kernels.ops.Rope;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/**
 * Grouped-query attention (Mixtral; Qwen3 adds an RMSNorm over each q and k head before RoPE).
 * Query head h reads key/value head h / (heads / kvHeads).
 *
 * <p>A cache block's key side is stored transposed, dimension-major: key dimension j of the block's row r at
 * {@code j * blockSize + r}. A block's scores for one query head are then vector FMAs over the dimensions with the
 * positions in lanes (no horizontal sum per position), and the heads of a group share each load of the keys. The value
 * side stays position-major (a row per position), the layout the weighted sum reads.
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
            writeKey(c, layer, p, k, t * kw, kw);
            System.arraycopy(v, t * kw, c.values(layer, p), (p % c.blockSize()) * kw, kw);
        }
        float[] attn = Scratch.floats(Scratch.Slot.ATTN_OUT, n * qw);
        long positionsRead = 0;
        for (int t = 0; t < n; t++) positionsRead += positions[t] + 1;
        // over (row, KV head) pairs on the kernel pool; each reads its key and value floats of every position once
        HeadSplit.run(this, q, caches, positions, n, attn, n * kvHeads, true, positionsRead * kvHeads * headDim * 8);
        oProj.matmul(attn, n, out);
    }

    /** Stores position p's key (kw floats of k from ko) into its block, transposed: dimension j at j·blockSize + row. */
    static void writeKey(KvCache c, int layer, int p, float[] k, int ko, int kw) {
        float[] block = c.keys(layer, p);
        int bs = c.blockSize();
        for (int j = 0, i = p % bs; j < kw; j++, i += bs) block[i] = k[ko + j];
    }

    /**
     * Units [u0, u1) of the batch, unit u = row u / kvHeads, KV head u % kvHeads, with the query heads of its group:
     * their scores, softmax and weighted sum of values, into their own slices of attn. A unit computes the same sums in
     * the same order wherever it runs, so the output does not depend on how the units are split.
     */
    @Override
    public void attend(float[] q, KvCache[] caches, int[] positions, int n, float[] attn, int u0, int u1, float[][] scratch) {
        int qw = heads * headDim, kw = kvHeads * headDim, group = heads / kvHeads;
        for (int u = u0; u < u1; u++) {
            int t = u / kvHeads, g = u - t * kvHeads;
            KvCache c = caches[t];
            int len = positions[t] + 1, bs = c.blockSize();
            int stride = len + bs; // a head's scores; a block's lanes past len land in the slack
            if (scratch[0].length < group * stride) scratch[0] = new float[Math.max(group * stride, 2 * scratch[0].length)];
            float[] scores = scratch[0];
            int qo = t * qw + g * group * headDim, ko = g * headDim;
            for (int b = 0; b < len; b += bs) {
                float[] kc = c.keys(layer, b);
                int h = 0;
                for (; h + 4 <= group; h += 4) AttentionScores.block4(q, qo + h * headDim, headDim, kc, ko * bs, bs, Math.min(len - b, bs), scaling, scores, h * stride + b, stride);
                for (; h < group; h++) AttentionScores.block1(q, qo + h * headDim, headDim, kc, ko * bs, bs, Math.min(len - b, bs), scaling, scores, h * stride + b);
            }
            for (int h = 0; h < group; h++) {
                int so = h * stride, ao = qo + h * headDim;
                Activations.softmax(scores, so, len);
                java.util.Arrays.fill(attn, ao, ao + headDim, 0f); // attn is a reused buffer: the sum starts here
                for (int b = 0; b < len; b += bs) Blas1.axpyRows(scores, so + b, Math.min(len, b + bs) - b, c.values(layer, b), ko, kw, attn, ao, headDim);
            }
        }
    }
}
