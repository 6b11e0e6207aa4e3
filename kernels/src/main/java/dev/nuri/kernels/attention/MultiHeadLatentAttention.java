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
     * Floats of q_abs, of the latent contexts (for one chunk of rows) and of the scores (for a group of heads over one
     * row's positions) a thread keeps: 4 MiB each. Past it the rows go in chunks and the heads in groups, each group
     * reading the row's latent positions once.
     */
    static final int CHUNK_FLOATS = 1 << 20;
    /** {@link #CHUNK_FLOATS}; smaller in a test, to take more than one chunk on a small shape. */
    int chunkFloats = CHUNK_FLOATS;

    /**
     * Query heads [h0, h1) of every row, into their slices of attn. Each head's q_abs = W_UKᵀ q_nope for a chunk of
     * rows (W_UK dequantised once per chunk), then, a row at a time, every block of latent positions is read once for
     * all the heads (for each group of them, on a long context): four heads' scores per load of a row
     * ({@link Blas1#dot4}), a softmax per head, four heads' latent contexts per load ({@link Blas1#axpyRows4}); then W_UV. A head's sums are those of one head alone, in the same
     * order, wherever it runs and whatever heads share its tile, so the output does not depend on how heads are split.
     */
    @Override
    public void attend(float[] q, KvCache[] caches, int[] positions, int n, float[] attn, int h0, int h1, float[][] scratch) {
        int qkHead = nope + ropeDim, kw = rank + ropeDim, hn = h1 - h0;
        int maxLen = 0;
        for (int t = 0; t < n; t++) maxLen = Math.max(maxLen, positions[t] + 1);
        int chunk = Math.max(1, Math.min(n, chunkFloats / (hn * rank)));
        int group = Math.min(hn, Math.max(4, chunkFloats / maxLen / 4 * 4)); // heads whose scores the scratch holds
        // scratch: [0] W_UK of one head, then q_abs [head][row of chunk][rank]; [1] scores [head][position], then four
        // dot results; [2] latent contexts [head][row of chunk][rank], then a junk row. Grown once, then kept.
        int wukSize = nope * rank, perChunk = hn * chunk * rank;
        if (scratch[0].length < wukSize + perChunk) scratch[0] = new float[wukSize + perChunk];
        if (scratch[1].length < group * maxLen + 8) scratch[1] = new float[Math.max(group * maxLen + 8, 2 * scratch[1].length)];
        if (scratch[2].length < perChunk + rank) scratch[2] = new float[perChunk + rank]; // + a junk row
        float[] wuk = scratch[0], scores = scratch[1], ctx = scratch[2];
        for (int c0 = 0; c0 < n; c0 += chunk) {
            int rows = Math.min(chunk, n - c0);
            for (int h = h0; h < h1; h++) {
                // W_UK for head h: rows h·(nope+v) .. +nope of kv_b_proj, dequantised once for the chunk
                for (int d = 0; d < nope; d++) kvBProj.dequantizeRow(h * (nope + vDim) + d, 0, rank, wuk, d * rank);
                for (int t = c0; t < c0 + rows; t++) {
                    int qo = (t * heads + h) * qkHead, qa = qAbs(wukSize, h - h0, rows, t - c0);
                    java.util.Arrays.fill(wuk, qa, qa + rank, 0f);
                    for (int d = 0; d < nope; d++) Blas1.axpy(q[qo + d], wuk, d * rank, wuk, qa, rank);
                }
            }
            java.util.Arrays.fill(ctx, 0, hn * rows * rank, 0f);
            for (int t = c0; t < c0 + rows; t++) {
                KvCache c = caches[t];
                int len = positions[t] + 1, bs = c.blockSize();
                for (int g0 = h0; g0 < h1; g0 += group) { // heads [g0, g1): their scores fit the scratch
                    int g1 = Math.min(h1, g0 + group), dots = (g1 - g0) * len;
                    for (int b = 0; b < len; b += bs) { // one block of positions at a time, for every head
                        float[] block = c.keys(layer, b);
                        int end = Math.min(len, b + bs);
                        for (int h = g0; h < g1; h += 4) {
                            // a last tile of fewer than four heads repeats its first one in the spare slots (a head's
                            // sums then come from dot4 wherever it runs)
                            int l = h - g0, k = Math.min(4, g1 - h), qa = qAbs(wukSize, h - h0, rows, t - c0);
                            int qr = (t * heads + h) * qkHead + nope, qs = rows * rank;
                            int qa1 = k > 1 ? qa + qs : qa, qa2 = k > 2 ? qa + 2 * qs : qa, qa3 = k > 3 ? qa + 3 * qs : qa;
                            int qr1 = k > 1 ? qr + qkHead : qr, qr2 = k > 2 ? qr + 2 * qkHead : qr, qr3 = k > 3 ? qr + 3 * qkHead : qr;
                            for (int s = b, r = 0; s < end; s++, r += kw) {
                                Blas1.dot4(wuk, qa, qa1, qa2, qa3, block, r, rank, scores, dots);
                                Blas1.dot4(q, qr, qr1, qr2, qr3, block, r + rank, ropeDim, scores, dots + 4);
                                for (int i = 0; i < k; i++) scores[(l + i) * len + s] = (scores[dots + i] + scores[dots + 4 + i]) * scaling;
                            }
                        }
                    }
                    for (int l = 0; l < g1 - g0; l++) Activations.softmax(scores, l * len, len);
                    for (int b = 0; b < len; b += bs) {
                        float[] block = c.keys(layer, b);
                        int m = Math.min(len, b + bs) - b;
                        for (int h = g0; h < g1; h += 4) {
                            // spare slots of a last short tile: the first head's weights, summed into a junk row
                            int k = Math.min(4, g1 - h), co = ctxAt(h - h0, rows, t - c0), cs = rows * rank, junk = hn * rows * rank;
                            int s0 = (h - g0) * len + b, s1 = k > 1 ? s0 + len : s0, s2 = k > 2 ? s0 + 2 * len : s0, s3 = k > 3 ? s0 + 3 * len : s0;
                            Blas1.axpyRows4(scores, s0, s1, s2, s3, m, block, 0, kw, ctx, co, k > 1 ? co + cs : junk,
                                    k > 2 ? co + 2 * cs : junk, k > 3 ? co + 3 * cs : junk, rank);
                        }
                    }
                }
            }
            for (int h = h0; h < h1; h++) {
                for (int t = c0; t < c0 + rows; t++) {
                    int co = ctxAt(h - h0, rows, t - c0);
                    for (int d = 0; d < vDim; d++) attn[(t * heads + h) * vDim + d] = kvBProj.dot(h * (nope + vDim) + nope + d, ctx, co);
                }
            }
        }
    }

    /** Where q_abs of local head l and chunk row r starts in scratch[0] (after W_UK). */
    private int qAbs(int wukSize, int l, int rows, int r) {
        return wukSize + (l * rows + r) * rank;
    }

    /** Where the latent context of local head l and chunk row r starts in scratch[2]. */
    private int ctxAt(int l, int rows, int r) {
        return (l * rows + r) * rank;
    }
}
