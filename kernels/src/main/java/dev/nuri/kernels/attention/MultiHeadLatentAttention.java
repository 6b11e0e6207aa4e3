package dev.nuri.kernels.attention;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;
import dev.nuri.kernels.ops.Rope;
import dev.nuri.kernels.ops.WeightMatrix;

/**
 * DeepSeek-V3 Multi-head Latent Attention (names as in transformers' DeepseekV3Attention) in the
 * absorbed form: the cache keeps only the normalised latent c (kv_lora_rank) and the shared rotary key
 * (qk_rope_head_dim) per token. With W_UK/W_UV the key/value halves of kv_b_proj for head h,
 * q_nope·(W_UK c) = (W_UKᵀ q_nope)·c and Σ p·(W_UV c) = W_UV (Σ p·c), so keys and values are never
 * expanded: per token the cache costs (rank + rope) floats for all heads.
 */
public final class MultiHeadLatentAttention implements Attention {
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
        float[] q = new float[n * heads * qkHead];
        if (qProj != null) {
            qProj.matmul(x, n, q);
        } else {
            float[] qa = new float[n * qAProj.rows()];
            qAProj.matmul(x, n, qa);
            Norms.rmsNormRows(qa, n, qAProj.rows(), qANorm, eps, qa);
            qBProj.matmul(qa, n, q);
        }
        int kw = rank + ropeDim;
        float[] kv = new float[n * kw];
        kvAProjWithMqa.matmul(x, n, kv);
        for (int t = 0; t < n; t++) {
            int p = positions[t];
            Norms.rmsNorm(kv, t * kw, kvANorm, eps, kv, t * kw, rank);
            rope.apply(kv, t * kw + rank, p);
            KvCache c = caches[t];
            System.arraycopy(kv, t * kw, c.keys(layer, p), (p % c.blockSize()) * kw, kw);
            for (int h = 0; h < heads; h++) rope.apply(q, (t * heads + h) * qkHead + nope, p);
        }

        float[] wuk = new float[nope * rank];
        float[] qAbs = new float[rank];
        float[] ctx = new float[n * heads * rank];
        int maxLen = 0;
        for (int t = 0; t < n; t++) maxLen = Math.max(maxLen, positions[t] + 1);
        float[] scores = new float[maxLen];
        for (int h = 0; h < heads; h++) {
            // W_UK for head h: rows h·(nope+v) .. +nope of kv_b_proj, dequantised once for the whole batch
            for (int d = 0; d < nope; d++) kvBProj.dequantizeRow(h * (nope + vDim) + d, 0, rank, wuk, d * rank);
            for (int t = 0; t < n; t++) {
                int qo = (t * heads + h) * qkHead;
                java.util.Arrays.fill(qAbs, 0f);
                for (int d = 0; d < nope; d++) Blas1.axpy(q[qo + d], wuk, d * rank, qAbs, 0, rank);
                KvCache c = caches[t];
                int len = positions[t] + 1, bs = c.blockSize();
                for (int b = 0; b < len; b += bs) { // one block of positions at a time
                    float[] block = c.keys(layer, b);
                    for (int s = b, r = 0; s < Math.min(len, b + bs); s++, r += kw) {
                        scores[s] = (Blas1.dot(qAbs, 0, block, r, rank) + Blas1.dot(q, qo + nope, block, r + rank, ropeDim)) * scaling;
                    }
                }
                Activations.softmax(scores, 0, len);
                int co = (t * heads + h) * rank;
                for (int b = 0; b < len; b += bs) {
                    float[] block = c.keys(layer, b);
                    for (int s = b, r = 0; s < Math.min(len, b + bs); s++, r += kw) Blas1.axpy(scores[s], block, r, ctx, co, rank);
                }
            }
        }
        float[] attn = new float[n * heads * vDim];
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int co = (t * heads + h) * rank;
                for (int d = 0; d < vDim; d++) {
                    attn[(t * heads + h) * vDim + d] = kvBProj.dot(h * (nope + vDim) + nope + d, ctx, co);
                }
            }
        }
        oProj.matmul(attn, n, out);
    }

    public int hidden() {
        return hidden;
    }
}
