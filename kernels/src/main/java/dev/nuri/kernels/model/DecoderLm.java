package dev.nuri.kernels.model;

import dev.nuri.kernels.attention.Attention;
import dev.nuri.kernels.attention.KvBlockPool;
import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.kernels.moe.FeedForward;
import dev.nuri.kernels.moe.GroupedExperts;
import dev.nuri.kernels.moe.MoeBlock;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The decoder stack shared by the four architectures: embed, then per layer
 * x += attn(input_layernorm(x)); x += mlp(post_attention_layernorm(x)), then norm and lm_head.
 * Every call runs a batch of rows (a prefill chunk or one token of each decoding sequence) through each
 * weight once.
 */
final class DecoderLm implements CausalLm {
    /** mlp is a dense FeedForward or an MoeBlock. */
    record Layer(float[] inputLayernorm, Attention selfAttn, float[] postAttentionLayernorm, FeedForward denseMlp,
                 MoeBlock moe) {}

    private final ModelConfig config;
    private final WeightMatrix embedTokens;
    private final Layer[] layers;
    private final float[] norm;
    private final WeightMatrix lmHead;
    private final GroupedExperts experts;

    /** The output head as loaded (its type: stored, or Q8_0 with {@link LoadOptions#quantizeLmHead}). */
    WeightMatrix lmHead() {
        return lmHead;
    }

    DecoderLm(ModelConfig config, WeightMatrix embedTokens, Layer[] layers, float[] norm, WeightMatrix lmHead,
              GroupedExperts experts) {
        this.config = config;
        this.embedTokens = embedTokens;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
        this.experts = experts;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public KvCache newCache(int maxTokens) {
        Attention a = layers[0].selfAttn();
        return KvCache.standalone(layers.length, maxTokens, a.keyWidth(), a.valueWidth());
    }

    @Override
    public KvBlockPool newBlockPool(int blockSize, int blocks) {
        Attention a = layers[0].selfAttn();
        return new KvBlockPool(layers.length, blockSize, blocks, a.keyWidth(), a.valueWidth());
    }

    @Override
    public long kvCacheBytesPerToken() {
        Attention a = layers[0].selfAttn();
        return KvBlockPool.bytesPerBlock(layers.length, 1, a.keyWidth(), a.valueWidth());
    }

    @Override
    public RoutedExperts localExperts() {
        experts.prepareAll();
        return experts;
    }

    @Override
    public ExpertShard expertShard(int[] ownedExperts) {
        int[][] perLayer = new int[layers.length][];
        for (int layer : config.moeLayers()) perLayer[layer] = ownedExperts;
        return expertShard(perLayer);
    }

    @Override
    public ExpertShard expertShard(int[][] ownedPerLayer) {
        if (ownedPerLayer.length != layers.length) {
            throw new IllegalArgumentException("expert sets for " + ownedPerLayer.length + " layers; the model has " + layers.length);
        }
        ExpertShard shard = new ExpertShard(experts, config.numExperts(), ownedPerLayer);
        for (int layer : config.moeLayers()) experts.prepare(layer, shard.ownedExperts(layer));
        return shard;
    }

    @Override
    public float[] prefill(int[] tokens, KvCache cache, RoutedExperts routed) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        int n = tokens.length;
        KvCache[] caches = new KvCache[n];
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) {
            caches[t] = cache;
            positions[t] = cache.length() + t;
        }
        boolean[] want = new boolean[n];
        want[n - 1] = true;
        return forward(tokens, caches, positions, routed, want)[n - 1];
    }

    @Override
    public float[][] decode(int[] tokens, KvCache[] caches, RoutedExperts routed) {
        boolean[] want = new boolean[tokens.length];
        java.util.Arrays.fill(want, true);
        return forward(tokens, caches, want, routed);
    }

    @Override
    public float[][] forward(int[] tokens, KvCache[] caches, boolean[] want, RoutedExperts routed) {
        if (tokens.length != caches.length || tokens.length != want.length) {
            throw new IllegalArgumentException(tokens.length + " tokens but " + caches.length + " caches and " + want.length + " logit flags");
        }
        // a cache listed twice gets consecutive positions, like a prefill chunk
        Map<KvCache, Integer> next = new IdentityHashMap<>();
        int[] positions = new int[tokens.length];
        for (int t = 0; t < tokens.length; t++) {
            int p = next.getOrDefault(caches[t], caches[t].length());
            positions[t] = p;
            next.put(caches[t], p + 1);
        }
        return forward(tokens, caches, positions, routed, want);
    }

    /** Runs rows; returns logits for rows with want[t] (null elsewhere). */
    float[][] forward(int[] tokens, KvCache[] caches, int[] positions, RoutedExperts routed, boolean[] want) {
        int n = tokens.length, h = config.hiddenSize();
        for (int t = 0; t < n; t++) {
            if (tokens[t] < 0 || tokens[t] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + tokens[t] + " outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
            caches[t].reserve(positions[t] + 1);
        }
        float[] x = new float[n * h];
        for (int t = 0; t < n; t++) embedTokens.dequantizeRow(tokens[t], 0, h, x, t * h);
        if (routed.overlaps(n)) {
            twoBatchOverlap(x, n, caches, positions, routed);
        } else {
            MicroBatch whole = new MicroBatch(x, 0, n, caches, positions, routed);
            for (Layer layer : layers) {
                whole.begin(layer);
                whole.end();
            }
        }
        for (int t = 0; t < n; t++) caches[t].commit(Math.max(caches[t].length(), positions[t] + 1));
        float eps = config.rmsNormEps();
        float[] xn = new float[n * h];
        // the rows that want logits go through lm_head together: its weight (often the largest) is read once per step
        int vocab = config.vocabSize(), m = 0;
        for (int t = 0; t < n; t++) if (want[t]) Norms.rmsNorm(x, t * h, norm, eps, xn, (m++) * h, h);
        float[] all = Scratch.floats(Scratch.Slot.LOGITS, m * vocab); // reused: only the rows handed out are new
        lmHead.matmul(xn, m, all);
        float[][] logits = new float[n][];
        for (int t = 0, i = 0; t < n; t++) {
            if (!want[t]) continue;
            logits[t] = java.util.Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab);
            i++;
        }
        return logits;
    }

    /**
     * Two-batch overlap (DeepSeek-V3, SGLang): the rows run as two micro-batches, the first half (earlier positions of
     * any sequence cut in two) and the second, interleaved layer by layer so that one's routed-expert traffic is under
     * way while the other computes: A's attention and MoE start, B's attention and MoE start, A's MoE finishes and
     * A's next layer starts, B's MoE finishes, and so on. Each micro-batch computes exactly what it would alone; the
     * second half's attention reads the first half's keys of the same layer, written before it.
     */
    private void twoBatchOverlap(float[] x, int n, KvCache[] caches, int[] positions, RoutedExperts routed) {
        int h = config.hiddenSize(), half = n / 2;
        MicroBatch a = new MicroBatch(x, 0, half, caches, positions, routed);
        MicroBatch b = new MicroBatch(x, half, n, caches, positions, routed);
        a.begin(layers[0]);
        b.begin(layers[0]);
        for (int l = 0; l < layers.length; l++) {
            a.end();
            if (l + 1 < layers.length) a.begin(layers[l + 1]);
            b.end();
            if (l + 1 < layers.length) b.begin(layers[l + 1]);
        }
        System.arraycopy(a.x, 0, x, 0, half * h);
        System.arraycopy(b.x, 0, x, half * h, (n - half) * h);
    }

    /** Rows [from, to) of a forward pass, one layer at a time: {@link #begin} starts a layer, {@link #end} completes it. */
    private final class MicroBatch {
        final int n;
        final float[] x, xn, y, shared; // shared: the shared expert's output while the routed ones are under way
        final KvCache[] caches;
        final int[] positions;
        final RoutedExperts routed;
        MoeBlock.Started moe; // the current layer's MoE, under way

        /** Works in place on x when it is all of the rows, else on a copy of its rows. */
        MicroBatch(float[] x, int from, int to, KvCache[] caches, int[] positions, RoutedExperts routed) {
            int h = config.hiddenSize();
            this.n = to - from;
            boolean all = from == 0 && to == caches.length;
            this.x = all ? x : java.util.Arrays.copyOfRange(x, from * h, to * h);
            this.caches = all ? caches : java.util.Arrays.copyOfRange(caches, from, to);
            this.positions = all ? positions : java.util.Arrays.copyOfRange(positions, from, to);
            this.routed = routed;
            this.xn = new float[n * h];
            this.y = new float[n * h];
            this.shared = new float[n * h];
        }

        /** x += attn(input_layernorm(x)), then the MLP of post_attention_layernorm(x) started (a dense one done). */
        void begin(Layer layer) {
            int h = config.hiddenSize();
            float eps = config.rmsNormEps();
            Norms.rmsNormRows(x, n, h, layer.inputLayernorm(), eps, xn);
            layer.selfAttn().forward(xn, n, caches, positions, y);
            Blas1.add(y, x, n * h);
            Norms.rmsNormRows(x, n, h, layer.postAttentionLayernorm(), eps, xn);
            if (layer.moe() != null) moe = layer.moe().start(xn, n, h, routed, y, shared);
            else layer.denseMlp().forward(xn, n, y);
        }

        /** x += the layer's MLP output. */
        void end() {
            if (moe != null) {
                moe.finish();
                moe = null;
            }
            Blas1.add(y, x, n * config.hiddenSize());
        }
    }
}
