package dev.nuri.kernels.attention;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;
import dev.nuri.kernels.ops.Rope;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/**
 * DeepSeek-V3 Multi-head Latent Attention (names as in transformers' DeepseekV3Attention) in the
 * absorbed form: the cache keeps only the normalised latent c (kv_lora_rank) and the shared rotary key
 * (qk_rope_head_dim) per token. With W_UK/W_UV the key/value halves of kv_b_proj for head h,
 * q_nope·(W_UK c) = (W_UKᵀ q_nope)·c and Σ p·(W_UV c) = W_UV (Σ p·c), so keys and values are never
 * expanded: per token the cache costs (rank + rope) floats for all heads.
 */
public final class MultiHeadLatentAttention implements Attention, HeadSplit.Heads {
    private final int layer;
    private final int heads, nope, ropeDim, vDim, rank, hidden;
    private final WeightMatrix qProj;      // when q_lora_rank is null
    private final WeightMatrix qAProj, qBProj;
    private final float[] qANorm;
    private final WeightMatrix kvAProjWithMqa;
    private final float[] kvANorm;
    private final WeightMatrix kvBProj;
    private final WeightMatrix oProj;
    private final float eps;
    private final float scaling;
    private final Rope rope;

    public MultiHeadLatentAttention(int layer, int hidden, int heads, int nope, int ropeDim, int vDim, int rank,
                                    WeightMatrix qProj, WeightMatrix qAProj, float[] qANorm, WeightMatrix qBProj,
                                    WeightMatrix kvAProjWithMqa, float[] kvANorm, WeightMatrix kvBProj,
                                    WeightMatrix oProj, float eps, float scaling, Rope rope) {
        this.layer = layer;
        this.hidden = hidden;
        this.heads = heads;
        this.nope = nope;
        this.ropeDim = ropeDim;
        this.vDim = vDim;
        this.rank = rank;
        this.qProj = qProj;
        this.qAProj = qAProj;
        this.qANorm = qANorm;
        this.qBProj = qBProj;
        this.kvAProjWithMqa = kvAProjWithMqa;
        this.kvANorm = kvANorm;
        this.kvBProj = kvBProj;
        this.oProj = oProj;
        this.eps = eps;
        this.scaling = scaling;
        this.rope = rope;
    }

    @Override
    public int keyWidth() {
        return rank + ropeDim;
    }

    @Override
    public int valueWidth() {
        return 0;
    }

    @Override
    public void forward(float[] x, int n, KvCache[] caches, int[] positions, float[] out) {
        int qkHead = nope + ropeDim;
        float[] q = Scratch.floats(Scratch.Slot.ATTN_Q, n * heads * qkHead);
        if (qProj != null) {
            qProj.matmul(x, n, q);
        } else {
            float[] qa = Scratch.floats(Scratch.Slot.ATTN_Q_LORA, n * qAProj.rows());
            qAProj.matmul(x, n, qa);
            Norms.rmsNormRows(qa, n, qAProj.rows(), qANorm, eps, qa);
            qBProj.matmul(qa, n, q);
        }
        int kw = rank + ropeDim;
        float[] kv = Scratch.floats(Scratch.Slot.ATTN_K, n * kw);
        kvAProjWithMqa.matmul(x, n, kv);
        for (int t = 0; t < n; t++) {
            int p = positions[t];
            Norms.rmsNorm(kv, t * kw, kvANorm, eps, kv, t * kw, rank);
            rope.apply(kv, t * kw + rank, p);
            KvCache c = caches[t];
            System.arraycopy(kv, t * kw, c.keys(layer, p), (p % c.blockSize()) * kw, kw);
            for (int h = 0; h < heads; h++) rope.apply(q, (t * heads + h) * qkHead + nope, p);
        }

        float[] attn = Scratch.floats(Scratch.Slot.ATTN_OUT, n * heads * vDim);
        long positionsRead = 0;
        for (int t = 0; t < n; t++) positionsRead += positions[t] + 1;
        // over query heads on the kernel pool; each head reads W_UK and W_UV and every row's latent positions
        HeadSplit.run(this, q, caches, positions, n, attn, heads, false,
                heads * (positionsRead * kw * 8 + kvBProj.bytes() / heads));
        oProj.matmul(attn, n, out);
    }

    public int hidden() {
        return hidden;
    }

    /**
     * Query heads [h0, h1) of every row, into their slices of attn: a head's W_UK is dequantised once for the batch,
     * its rows' latent contexts gathered in the thread's scratch, then W_UV applied. A head computes the same sums in
     * the same order wherever it runs, so the output does not depend on how the heads are split.
     */
    @Override
    public void attend(float[] q, KvCache[] caches, int[] positions, int n, float[] attn, int h0, int h1, float[][] scratch) {
        int qkHead = nope + ropeDim, kw = rank + ropeDim;
        int maxLen = 0;
        for (int t = 0; t < n; t++) maxLen = Math.max(maxLen, positions[t] + 1);
        // scratch: W_UK and q_abs, the scores, the rows' contexts; grown once, then kept by the thread
        if (scratch[0].length < nope * rank + rank) scratch[0] = new float[nope * rank + rank];
        if (scratch[1].length < maxLen) scratch[1] = new float[Math.max(maxLen, 2 * scratch[1].length)];
        if (scratch[2].length < n * rank) scratch[2] = new float[Math.max(n * rank, 2 * scratch[2].length)];
        float[] wuk = scratch[0], scores = scratch[1], ctx = scratch[2];
        int qAbs = nope * rank; // q_abs lives in wuk's array after W_UK
        for (int h = h0; h < h1; h++) {
            // W_UK for head h: rows h·(nope+v) .. +nope of kv_b_proj, dequantised once for the whole batch
            for (int d = 0; d < nope; d++) kvBProj.dequantizeRow(h * (nope + vDim) + d, 0, rank, wuk, d * rank);
            java.util.Arrays.fill(ctx, 0, n * rank, 0f);
            for (int t = 0; t < n; t++) {
                int qo = (t * heads + h) * qkHead;
                java.util.Arrays.fill(wuk, qAbs, qAbs + rank, 0f);
                for (int d = 0; d < nope; d++) Blas1.axpy(q[qo + d], wuk, d * rank, wuk, qAbs, rank);
                KvCache c = caches[t];
                int len = positions[t] + 1, bs = c.blockSize();
                for (int b = 0; b < len; b += bs) { // one block of positions at a time
                    float[] block = c.keys(layer, b);
                    for (int s = b, r = 0; s < Math.min(len, b + bs); s++, r += kw) {
                        scores[s] = (Blas1.dot(wuk, qAbs, block, r, rank) + Blas1.dot(q, qo + nope, block, r + rank, ropeDim)) * scaling;
                    }
                }
                Activations.softmax(scores, 0, len);
                int co = t * rank;
                for (int b = 0; b < len; b += bs) Blas1.axpyRows(scores, b, Math.min(len, b + bs) - b, c.keys(layer, b), 0, kw, ctx, co, rank);
            }
            for (int t = 0; t < n; t++) {
                for (int d = 0; d < vDim; d++) {
                    attn[(t * heads + h) * vDim + d] = kvBProj.dot(h * (nope + vDim) + nope + d, ctx, t * rank);
                }
            }
        }
    }
}
