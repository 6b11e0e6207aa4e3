package dev.nuri.kernels.model;

import dev.nuri.kernels.attention.Attention;
import dev.nuri.kernels.attention.GroupedQueryAttention;
import dev.nuri.kernels.attention.MultiHeadLatentAttention;
import dev.nuri.kernels.moe.FeedForward;
import dev.nuri.kernels.moe.GroupLimitedSigmoidRouter;
import dev.nuri.kernels.moe.GroupedExperts;
import dev.nuri.kernels.moe.MoeBlock;
import dev.nuri.kernels.moe.Router;
import dev.nuri.kernels.moe.SoftmaxTopKRouter;
import dev.nuri.kernels.ops.Rope;
import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.Checkpoint;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;
import dev.nuri.kernels.weights.WeightFormatException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Assembles a {@link DecoderLm} from checkpoint tensors named as in transformers
 * ({@code model.layers.N.self_attn.kv_b_proj.weight}, ...). Accepts both expert layouts: transformers ≥ 5
 * fused ({@code mlp.experts.gate_up_proj} [E, 2I, H], {@code mlp.experts.down_proj} [E, H, I]) and the
 * per-expert layout of released checkpoints ({@code mlp.experts.N.gate_proj.weight}; Mixtral's
 * {@code block_sparse_moe.experts.N.w1/w2/w3}).
 */
final class ModelLoader {
    private final ModelConfig c;
    private final Checkpoint ckpt;
    private final LoadOptions options;
    private final List<WeightMatrix> requantized = new ArrayList<>(); // stored weights read into Q8_0 copies

    private ModelLoader(ModelConfig c, Checkpoint ckpt, LoadOptions options) {
        this.c = c;
        this.ckpt = ckpt;
        this.options = options;
    }

    static CausalLm load(Path dir, LoadOptions options) {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new WeightFormatException(dir + " has no config.json; expected a Hugging Face model directory");
        }
        ModelConfig c = ModelConfig.read(config);
        return assemble(c, Checkpoint.open(dir, Arena.ofAuto()), options);
    }

    static DecoderLm assemble(ModelConfig c, Checkpoint ckpt, LoadOptions options) {
        return new ModelLoader(c, ckpt, options).build();
    }

    private DecoderLm build() {
        int h = c.hiddenSize();
        WeightMatrix embed = WeightMatrix.of(ckpt.tensor("model.embed_tokens.weight").expectShape(c.vocabSize(), h));
        boolean tied = c.tieWordEmbeddings() && !ckpt.has("lm_head.weight");
        WeightMatrix lmHead = tied ? embed : WeightMatrix.of(ckpt.tensor("lm_head.weight").expectShape(c.vocabSize(), h));
        // the table is read a row per token, as llama.cpp's Q8_0 reads it; lm_head stays as stored (the logits and the
        // log-probabilities served to students come from it), and so does a table tied to it, unless asked for too
        if (options.quantizeLmHead()) {
            lmHead = requantized(lmHead);
            if (tied) embed = lmHead;
        }
        if (options.quantizeQ8_0() && !tied) embed = requantized(embed);
        float[] norm = vector("model.norm.weight", h);
        DecoderLm.Layer[] layers = new DecoderLm.Layer[c.numLayers()];
        FeedForward[][] routed = new FeedForward[c.numLayers()][];
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            Attention attn = c.isMla() ? mla(i, p + "self_attn.") : gqa(i, p + "self_attn.");
            FeedForward dense = null;
            MoeBlock moe = null;
            if (c.isMoeLayer(i)) {
                String m = ckpt.has(p + "block_sparse_moe.gate.weight") ? p + "block_sparse_moe." : p + "mlp.";
                routed[i] = experts(m + "experts.");
                moe = moeBlock(i, p, m);
            } else {
                dense = ffn(p + "mlp.", c.intermediateSize());
            }
            layers[i] = new DecoderLm.Layer(vector(p + "input_layernorm.weight", h), attn,
                    vector(p + "post_attention_layernorm.weight", h), dense, moe);
        }
        // reading each weight faulted back in the last pages of the one stored before it (WeightMatrix.releaseCheckpointPages)
        requantized.forEach(WeightMatrix::releaseCheckpointPages);
        // routed experts stay as stored here: each shard quantises only the experts it is given (GroupedExperts.prepare)
        return new DecoderLm(c, embed, layers, norm, lmHead, new GroupedExperts(routed, options.quantizeQ8_0()));
    }

    private MoeBlock moeBlock(int layer, String p, String m) {
        int h = c.hiddenSize();
        // the router stays in the checkpoint's precision (transformers keeps DeepSeek's gate in fp32)
        WeightMatrix gate = WeightMatrix.of(ckpt.tensor(m + "gate.weight").expectShape(c.numExperts(), h));
        Router router;
        FeedForward shared = null;
        float[] postNorm = null;
        if (c.isMla()) {
            float[] bias = ckpt.find(m + "gate.e_score_correction_bias").map(Tensor::toFloatArray).orElse(null);
            router = new GroupLimitedSigmoidRouter(gate, bias, c.topK(), c.nGroup(), c.topkGroup(), c.normTopkProb(),
                    c.routedScalingFactor());
            if (c.nSharedExperts() > 0) shared = ffn(m + "shared_experts.", c.moeIntermediateSize() * c.nSharedExperts());
            if (c.modelType().equals("axk1")) {
                // released checkpoints keep it at layer level; transformers renames it into mlp. at load
                String name = ckpt.has(p + "post_mlp_layernorm.weight") ? p + "post_mlp_layernorm.weight"
                        : m + "post_mlp_layernorm.weight";
                postNorm = vector(name, h);
            }
        } else {
            router = new SoftmaxTopKRouter(gate, c.topK(), c.normTopkProb());
        }
        return new MoeBlock(layer, router, shared, postNorm, c.rmsNormEps());
    }

    private FeedForward[] experts(String e) {
        int h = c.hiddenSize(), inter = c.moeIntermediateSize(), n = c.numExperts();
        FeedForward[] out = new FeedForward[n];
        if (ckpt.has(e + "gate_up_proj")) {
            Tensor gateUp = ckpt.tensor(e + "gate_up_proj").expectShape(n, 2L * inter, h);
            Tensor down = ckpt.tensor(e + "down_proj").expectShape(n, h, inter);
            if (gateUp.dtype() == DType.F8_E4M3) {
                throw new WeightFormatException(e + "gate_up_proj is fused FP8; Nuri reads FP8 experts only in the "
                        + "per-expert layout of DeepSeek's release (" + e + "N.gate_proj.weight + weight_scale_inv)");
            }
            for (int i = 0; i < n; i++) {
                Tensor gu = gateUp.slice(i);
                out[i] = new FeedForward(WeightMatrix.of(gu.rows(0, inter)), WeightMatrix.of(gu.rows(inter, 2 * inter)),
                        WeightMatrix.of(down.slice(i)));
            }
            return out;
        }
        boolean mixtral = ckpt.has(e + "0.w1.weight");
        for (int i = 0; i < n; i++) {
            String x = e + i + ".";
            out[i] = mixtral
                    ? new FeedForward(stored(x + "w1", inter, h), stored(x + "w3", inter, h), stored(x + "w2", h, inter))
                    : new FeedForward(stored(x + "gate_proj", inter, h), stored(x + "up_proj", inter, h),
                    stored(x + "down_proj", h, inter));
        }
        return out;
    }

    private FeedForward ffn(String p, int inter) {
        int h = c.hiddenSize();
        return new FeedForward(linear(p + "gate_proj", inter, h), linear(p + "up_proj", inter, h),
                linear(p + "down_proj", h, inter));
    }

    private Attention mla(int layer, String p) {
        int h = c.hiddenSize(), heads = c.numAttentionHeads();
        int nope = c.qkNopeHeadDim(), rope = c.qkRopeHeadDim(), v = c.vHeadDim(), rank = c.kvLoraRank();
        int qk = nope + rope;
        WeightMatrix qProj = null, qA = null, qB = null;
        float[] qANorm = null;
        if (c.qLoraRank() > 0) {
            qA = linear(p + "q_a_proj", c.qLoraRank(), h);
            qANorm = vector(p + "q_a_layernorm.weight", c.qLoraRank());
            qB = linear(p + "q_b_proj", heads * qk, c.qLoraRank());
        } else {
            qProj = linear(p + "q_proj", heads * qk, h);
        }
        // softmax scale: qk_head_dim^-0.5, times mscale(factor, mscale_all_dim)^2 under YaRN (yarn_apply_mscale)
        double scaling = 1.0 / Math.sqrt(qk);
        RopeParameters rp = c.rope();
        if (rp.isYarn() && rp.mscaleAllDim() != 0) {
            double m = Rope.yarnMscale(rp.factor(), rp.mscaleAllDim());
            scaling *= m * m;
        }
        return new MultiHeadLatentAttention(layer, h, heads, nope, rope, v, rank, qProj, qA, qANorm, qB,
                linear(p + "kv_a_proj_with_mqa", rank + rope, h), vector(p + "kv_a_layernorm.weight", rank),
                linear(p + "kv_b_proj", heads * (nope + v), rank), linear(p + "o_proj", h, heads * v),
                c.rmsNormEps(), (float) scaling, rp.rope(rope, c.ropeInterleave()));
    }

    private Attention gqa(int layer, String p) {
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), kv = c.numKeyValueHeads(), hd = c.headDim();
        float[] qNorm = ckpt.has(p + "q_norm.weight") ? vector(p + "q_norm.weight", hd) : null;
        float[] kNorm = ckpt.has(p + "k_norm.weight") ? vector(p + "k_norm.weight", hd) : null;
        if (ckpt.has(p + "q_proj.bias")) {
            throw new WeightFormatException(p + "q_proj has a bias; attention biases are not supported");
        }
        return new GroupedQueryAttention(layer, heads, kv, hd, linear(p + "q_proj", heads * hd, h),
                linear(p + "k_proj", kv * hd, h), linear(p + "v_proj", kv * hd, h), linear(p + "o_proj", h, heads * hd),
                qNorm, kNorm, c.rmsNormEps(), c.rope().rope(hd, false));
    }

    private WeightMatrix linear(String name, int rows, int cols) {
        WeightMatrix w = stored(name, rows, cols);
        return options.quantizeQ8_0() ? requantized(w) : w;
    }

    private WeightMatrix requantized(WeightMatrix w) {
        requantized.add(w);
        return w.requantizedQ8_0();
    }

    /** The weight as the checkpoint stores it (routed experts: quantised later, only where owned). */
    private WeightMatrix stored(String name, int rows, int cols) {
        Tensor w = ckpt.tensor(name + ".weight").expectShape(rows, cols);
        Tensor scale = w.dtype() == DType.F8_E4M3 ? ckpt.tensor(name + ".weight_scale_inv") : null;
        return WeightMatrix.of(w, scale);
    }

    private float[] vector(String name, int len) {
        return ckpt.tensor(name).expectShape(len).toFloatArray();
    }
}
