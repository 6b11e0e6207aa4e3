package dev.nuri.kernels.model;

import dev.nuri.kernels.weights.Json;
import dev.nuri.kernels.weights.WeightFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The parts of a Hugging Face config.json the forward pass needs, for {@code axk1}, {@code deepseek_v3},
 * {@code qwen3_moe} and {@code mixtral}. Names follow the config keys (camelCase); numExperts is
 * n_routed_experts / num_experts / num_local_experts, topK is num_experts_per_tok.
 *
 * @param moeLayers indices of the decoder layers whose MLP is sparse
 * @param qLoraRank 0 when the checkpoint has a plain q_proj (DeepSeek-V3 allows q_lora_rank = null)
 * @param bosTokenId -1 when absent
 */
public record ModelConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int moeIntermediateSize,
        int numLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int vocabSize,
        int numExperts,
        int topK,
        int nSharedExperts,
        int nGroup,
        int topkGroup,
        float routedScalingFactor,
        boolean normTopkProb,
        int[] moeLayers,
        int qLoraRank,
        int kvLoraRank,
        int qkNopeHeadDim,
        int qkRopeHeadDim,
        int vHeadDim,
        float rmsNormEps,
        RopeParameters rope,
        boolean ropeInterleave,
        int maxPositionEmbeddings,
        int[] eosTokenIds,
        int bosTokenId,
        boolean tieWordEmbeddings) {

    public static final List<String> SUPPORTED = List.of("axk1", "deepseek_v3", "qwen3_moe", "mixtral");

    public boolean isMla() {
        return modelType.equals("axk1") || modelType.equals("deepseek_v3");
    }

    public boolean isMoeLayer(int layer) {
        return Arrays.binarySearch(moeLayers, layer) >= 0;
    }

    @Override
    public int[] moeLayers() {
        return moeLayers.clone();
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    public static ModelConfig read(Path configJson) {
        try {
            return parse(Json.parseObject(Files.readString(configJson)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + configJson, e);
        } catch (IllegalArgumentException e) {
            throw new WeightFormatException(configJson + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads config.json's object: keys it leaves out take transformers' defaults for its model_type, and fields
     * that would make the kernels compute something else than the checkpoint's model are refused by name.
     */
    public static ModelConfig parse(Map<String, Object> json) {
        String type = str(json, "model_type");
        if (!SUPPORTED.contains(type)) {
            throw new WeightFormatException("model_type '" + type + "' is not supported; supported: " + SUPPORTED);
        }
        Map<String, Object> c = TransformersDefaults.apply(type, json);
        UnsupportedFeatures.check(type, c);
        int hidden = integer(c, "hidden_size");
        int layers = integer(c, "num_hidden_layers");
        int heads = integer(c, "num_attention_heads");
        int kvHeads = optInt(c, "num_key_value_heads", heads); // null: as many as attention heads
        float eps = (float) optDouble(c, "rms_norm_eps", 1e-6);
        int maxPos = integer(c, "max_position_embeddings");
        int[] eos = intList(c.get("eos_token_id"));
        int bos = c.get("bos_token_id") instanceof Number b ? b.intValue() : -1;
        boolean tie = c.get("tie_word_embeddings") instanceof Boolean b && b;
        RopeParameters rope = ropeParameters(c, maxPos);
        return switch (type) {
            case "axk1", "deepseek_v3" -> {
                int experts = integer(c, "n_routed_experts");
                int firstDense = integer(c, "first_k_dense_replace");
                int freq = optInt(c, "moe_layer_freq", 1);
                int[] moe = sparseLayers(c, layers, i -> i >= firstDense && i % freq == 0);
                int qLora = c.get("q_lora_rank") instanceof Number q ? q.intValue() : 0; // null: a plain q_proj
                int rope64 = integer(c, "qk_rope_head_dim");
                boolean interleave = Boolean.TRUE.equals(c.get("rope_interleave")); // null is falsy there too
                yield new ModelConfig(type, hidden, integer(c, "intermediate_size"), integer(c, "moe_intermediate_size"),
                        layers, heads, kvHeads, rope64, integer(c, "vocab_size"), experts,
                        integer(c, "num_experts_per_tok"), integer(c, "n_shared_experts"), integer(c, "n_group"),
                        integer(c, "topk_group"), (float) optDouble(c, "routed_scaling_factor", 1.0),
                        Boolean.TRUE.equals(c.get("norm_topk_prob")), moe, qLora, integer(c, "kv_lora_rank"),
                        integer(c, "qk_nope_head_dim"), rope64, integer(c, "v_head_dim"), eps, rope, interleave, maxPos,
                        eos, bos, tie);
            }
            case "qwen3_moe" -> {
                int experts = integer(c, "num_experts");
                int step = integer(c, "decoder_sparse_step");
                int[] mlpOnly = intList(c.get("mlp_only_layers"));
                int[] moe = sparseLayers(c, layers, i -> Arrays.stream(mlpOnly).noneMatch(m -> m == i)
                        && experts > 0 && (i + 1) % step == 0);
                int headDim = optInt(c, "head_dim", hidden / heads);
                yield new ModelConfig(type, hidden, integer(c, "intermediate_size"), integer(c, "moe_intermediate_size"),
                        layers, heads, kvHeads, headDim, integer(c, "vocab_size"), experts,
                        integer(c, "num_experts_per_tok"), 0, 1, 1, 1f, Boolean.TRUE.equals(c.get("norm_topk_prob")), moe,
                        0, 0, 0, 0, 0, eps, rope, false, maxPos, eos, bos, tie);
            }
            case "mixtral" -> {
                int headDim = optInt(c, "head_dim", hidden / heads);
                int[] moe = new int[layers];
                for (int i = 0; i < layers; i++) moe[i] = i;
                yield new ModelConfig(type, hidden, integer(c, "intermediate_size"), integer(c, "intermediate_size"),
                        layers, heads, kvHeads, headDim, integer(c, "vocab_size"), integer(c, "num_local_experts"),
                        integer(c, "num_experts_per_tok"), 0, 1, 1, 1f, true, moe, 0, 0, 0, 0, 0, eps, rope, false,
                        maxPos, eos, bos, tie);
            }
            default -> throw new AssertionError(type);
        };
    }

    private static int[] sparseLayers(Map<String, Object> c, int layers, java.util.function.IntPredicate legacy) {
        List<Integer> out = new ArrayList<>();
        if (c.get("mlp_layer_types") instanceof List<?> types) {
            for (int i = 0; i < types.size(); i++) if ("sparse".equals(types.get(i))) out.add(i);
        } else {
            for (int i = 0; i < layers; i++) if (legacy.test(i)) out.add(i);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @SuppressWarnings("unchecked")
    private static RopeParameters ropeParameters(Map<String, Object> c, int maxPos) {
        String field = c.get("rope_parameters") instanceof Map<?, ?> ? "rope_parameters" : "rope_scaling";
        Map<String, Object> p = c.get(field) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        double theta = p.get("rope_theta") instanceof Number t ? t.doubleValue() : optDouble(c, "rope_theta", 10000.0);
        String typeKey = p.containsKey("rope_type") ? "rope_type" : "type";
        String type = p.get(typeKey) == null ? "default" : String.valueOf(p.get(typeKey));
        if (type.equals("default")) return RopeParameters.standard(theta);
        if (!type.equals("yarn")) {
            throw new WeightFormatException("config.json: " + field + "." + typeKey + " = \"" + type
                    + "\" is not supported: Nuri's kernels apply RoPE types default and yarn only");
        }
        int origMax = optInt(p, "original_max_position_embeddings", maxPos);
        double factor = p.get("factor") instanceof Number f ? f.doubleValue() : (double) maxPos / origMax;
        Double attentionFactor = p.get("attention_factor") instanceof Number a ? a.doubleValue() : null;
        return new RopeParameters("yarn", theta, factor, origMax,
                p.get("beta_fast") instanceof Number b && b.doubleValue() != 0 ? b.doubleValue() : 32,
                p.get("beta_slow") instanceof Number b && b.doubleValue() != 0 ? b.doubleValue() : 1,
                optDouble(p, "mscale", 0), optDouble(p, "mscale_all_dim", 0), attentionFactor,
                optBool(p, "truncate", true));
    }

    private static String str(Map<String, Object> c, String key) {
        if (!(c.get(key) instanceof String s)) throw new WeightFormatException("config.json has no string '" + key + "'");
        return s;
    }

    private static int integer(Map<String, Object> c, String key) {
        if (!(c.get(key) instanceof Number n)) {
            throw new WeightFormatException("config.json lacks required integer '" + key + "'");
        }
        return n.intValue();
    }

    private static int optInt(Map<String, Object> c, String key, int dflt) {
        return c.get(key) instanceof Number n ? n.intValue() : dflt;
    }

    private static double optDouble(Map<String, Object> c, String key, double dflt) {
        return c.get(key) instanceof Number n ? n.doubleValue() : dflt;
    }

    private static boolean optBool(Map<String, Object> c, String key, boolean dflt) {
        return c.get(key) instanceof Boolean b ? b : dflt;
    }

    private static int[] intList(Object v) {
        if (v instanceof Number n) return new int[] {n.intValue()};
        if (v instanceof List<?> l) return l.stream().mapToInt(o -> ((Number) o).intValue()).toArray();
        return new int[0];
    }
}
