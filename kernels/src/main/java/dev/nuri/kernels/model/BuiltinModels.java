package dev.nuri.kernels.model;

import dev.nuri.kernels.weights.Checkpoint;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Json;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Small deterministic models generated in memory, for tests and for workers started without weights.
 * They go through the same config parser and loader as a checkpoint directory.
 */
final class BuiltinModels {
    private BuiltinModels() {}

    static CausalLm create(String name) {
        return switch (name) {
            case "tiny-axk1", "tiny-axk1-tools" -> build(TINY_AXK1); // -tools: the same weights, a tokenizer with tool tokens
            // the same weights with an 8k context, for long-prompt benchmarks (its tokenizer is tiny-axk1's)
            case "tiny-axk1-8k" -> build(TINY_AXK1.replace("\"max_position_embeddings\": 1024", "\"max_position_embeddings\": 8192"));
            // the same weights, routing skewed towards a few experts per layer (expert-load benchmarks and tests)
            case "tiny-axk1-skewed" -> build(TINY_AXK1, SKEW_BIAS);
            case "tiny-qwen3moe" -> build(TINY_QWEN3MOE);
            default -> throw new IllegalArgumentException("no builtin model '" + name + "'; known: tiny-axk1, tiny-axk1-tools, tiny-axk1-8k, "
                    + "tiny-axk1-skewed, tiny-qwen3moe");
        };
    }

    /** A scaled-down A.X K1: 1 dense + 3 MoE layers, 16 routed experts + 1 shared, top-4 in 2 of 4 groups, YaRN. */
    static final String TINY_AXK1 = """
            {"model_type": "axk1", "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 128,
             "num_hidden_layers": 4, "first_k_dense_replace": 1, "num_attention_heads": 4, "num_key_value_heads": 4,
             "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32,
             "n_routed_experts": 16, "n_shared_experts": 1, "num_experts_per_tok": 4, "n_group": 4, "topk_group": 2,
             "routed_scaling_factor": 2.5, "norm_topk_prob": true, "vocab_size": 512, "rms_norm_eps": 1e-6,
             "max_position_embeddings": 1024, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false,
             "rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
               "original_max_position_embeddings": 256, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0,
               "mscale_all_dim": 1.0}}
            """;

    static final String TINY_QWEN3MOE = """
            {"model_type": "qwen3_moe", "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 128,
             "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
             "num_experts": 16, "num_experts_per_tok": 4, "norm_topk_prob": true, "decoder_sparse_step": 1,
             "mlp_only_layers": [0], "vocab_size": 512, "rms_norm_eps": 1e-6, "max_position_embeddings": 1024,
             "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false,
             "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}}
            """;

    /**
     * tiny-axk1-skewed: added to {@code e_score_correction_bias} (which chooses experts, never weights them) of the
     * hot experts of MoE layer l, {@code 4(l-1)} and {@code 4(l-1)+5} mod 16: two experts in two groups, which the
     * static layout puts on two shards of four. The bias std is 0.05, so these are chosen for most tokens.
     */
    static final double SKEW_BIAS = 0.25;

    private static CausalLm build(String json) {
        return build(json, 0);
    }

    private static CausalLm build(String json, double skew) {
        ModelConfig c = ModelConfig.parse(Json.parseObject(json));
        Generator g = new Generator(c.modelType().hashCode());
        int h = c.hiddenSize();
        g.matrix("model.embed_tokens.weight", c.vocabSize(), h, 1.0);
        g.matrix("lm_head.weight", c.vocabSize(), h, 1.0 / Math.sqrt(h));
        g.norm("model.norm.weight", h);
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            g.norm(p + "input_layernorm.weight", h);
            g.norm(p + "post_attention_layernorm.weight", h);
            String a = p + "self_attn.";
            if (c.isMla()) {
                int qk = c.qkNopeHeadDim() + c.qkRopeHeadDim();
                g.linear(a + "q_a_proj", c.qLoraRank(), h);
                g.norm(a + "q_a_layernorm.weight", c.qLoraRank());
                g.linear(a + "q_b_proj", c.numAttentionHeads() * qk, c.qLoraRank());
                g.linear(a + "kv_a_proj_with_mqa", c.kvLoraRank() + c.qkRopeHeadDim(), h);
                g.norm(a + "kv_a_layernorm.weight", c.kvLoraRank());
                g.linear(a + "kv_b_proj", c.numAttentionHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank());
                g.linear(a + "o_proj", h, c.numAttentionHeads() * c.vHeadDim());
            } else {
                int hd = c.headDim();
                g.linear(a + "q_proj", c.numAttentionHeads() * hd, h);
                g.linear(a + "k_proj", c.numKeyValueHeads() * hd, h);
                g.linear(a + "v_proj", c.numKeyValueHeads() * hd, h);
                g.linear(a + "o_proj", h, c.numAttentionHeads() * hd);
                g.norm(a + "q_norm.weight", hd);
                g.norm(a + "k_norm.weight", hd);
            }
            String m = p + "mlp.";
            if (c.isMoeLayer(i)) {
                int e = c.numExperts(), inter = c.moeIntermediateSize();
                g.matrix(m + "gate.weight", e, h, 1.0 / Math.sqrt(h));
                if (c.isMla()) {
                    g.vector(m + "gate.e_score_correction_bias", e, 0.05);
                    g.ffn(m + "shared_experts.", h, inter * c.nSharedExperts());
                    if (c.modelType().equals("axk1")) g.norm(p + "post_mlp_layernorm.weight", h);
                }
                for (int x = 0; x < e; x++) g.ffn(m + "experts." + x + ".", h, inter);
            } else {
                g.ffn(m, h, c.intermediateSize());
            }
        }
        if (skew != 0) {
            for (int layer : c.moeLayers()) {
                MemorySegment bias = g.tensors.get("model.layers." + layer + ".mlp.gate.e_score_correction_bias").data();
                for (int hot : new int[] {4 * (layer - 1), 4 * (layer - 1) + 5}) {
                    long i = hot % c.numExperts();
                    bias.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (bias.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i) + skew));
                }
            }
        }
        return ModelLoader.assemble(c, new Checkpoint("builtin", g.tensors), LoadOptions.DEFAULT);
    }

    /** Gaussian weights scaled by 1/sqrt(fan_in) so activations keep their size through the layers. */
    private static final class Generator {
        final Map<String, Tensor> tensors = new LinkedHashMap<>();
        final SplittableRandom random;
        final Arena arena = Arena.ofAuto();

        Generator(long seed) {
            random = new SplittableRandom(seed);
        }

        void linear(String name, int rows, int cols) {
            matrix(name + ".weight", rows, cols, 1.0 / Math.sqrt(cols));
        }

        void ffn(String p, int h, int inter) {
            linear(p + "gate_proj", inter, h);
            linear(p + "up_proj", inter, h);
            linear(p + "down_proj", h, inter);
        }

        void matrix(String name, int rows, int cols, double std) {
            put(name, new long[] {rows, cols}, std, 0);
        }

        void vector(String name, int len, double std) {
            put(name, new long[] {len}, std, 0);
        }

        void norm(String name, int len) {
            put(name, new long[] {len}, 0.1, 1.0);
        }

        private void put(String name, long[] shape, double std, double mean) {
            long n = Tensor.numel(shape);
            MemorySegment s = arena.allocate(n * 4, 64);
            for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (mean + std * random.nextGaussian()));
            tensors.put(name, new Tensor(name, DType.F32, shape, s));
        }
    }
}
