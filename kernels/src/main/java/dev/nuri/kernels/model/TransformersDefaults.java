package dev.nuri.kernels.model;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What transformers' config classes ({@code DeepseekV3Config}, {@code AXK1Config}, {@code Qwen3MoeConfig},
 * {@code MixtralConfig}, transformers 5.24) assume for a key that config.json leaves out, so that a sparse
 * config.json computes here what it computes there. Only the keys the forward pass reads are listed; an explicit
 * {@code null} in config.json is kept (it means something else: {@code q_lora_rank: null} is a plain q_proj).
 * kernels/golden/make_config_defaults.py writes each class's defaults to test resources, and
 * ModelConfigTest compares them with this table.
 */
final class TransformersDefaults {
    private TransformersDefaults() {}

    private static final Map<String, Object> DEEPSEEK_V3 = Map.ofEntries(
            Map.entry("vocab_size", 129280), Map.entry("hidden_size", 7168), Map.entry("intermediate_size", 18432),
            Map.entry("moe_intermediate_size", 2048), Map.entry("num_hidden_layers", 61),
            Map.entry("num_attention_heads", 128), Map.entry("num_key_value_heads", 128),
            Map.entry("n_shared_experts", 1), Map.entry("n_routed_experts", 256),
            Map.entry("routed_scaling_factor", 2.5), Map.entry("kv_lora_rank", 512), Map.entry("q_lora_rank", 1536),
            Map.entry("qk_rope_head_dim", 64), Map.entry("v_head_dim", 128), Map.entry("qk_nope_head_dim", 128),
            Map.entry("n_group", 8), Map.entry("topk_group", 4), Map.entry("num_experts_per_tok", 8),
            Map.entry("first_k_dense_replace", 3), Map.entry("norm_topk_prob", true), Map.entry("hidden_act", "silu"),
            Map.entry("max_position_embeddings", 4096), Map.entry("rms_norm_eps", 1e-6),
            Map.entry("bos_token_id", 0), Map.entry("eos_token_id", 1), Map.entry("tie_word_embeddings", false),
            Map.entry("rope_interleave", true), Map.entry("attention_bias", false), Map.entry("rope_theta", 10000.0));

    /** AXK1Config: DeepSeek-V3's shape with A.X K1's heads, experts, vocabulary, context and one dense layer. */
    private static final Map<String, Object> AXK1 = override(DEEPSEEK_V3, Map.of(
            "vocab_size", 163840, "num_attention_heads", 64, "num_key_value_heads", 64, "n_routed_experts", 192,
            "first_k_dense_replace", 1, "max_position_embeddings", 32768, "bos_token_id", 163691,
            "eos_token_id", 163691));

    private static final Map<String, Object> QWEN3_MOE = Map.ofEntries(
            Map.entry("vocab_size", 151936), Map.entry("hidden_size", 2048), Map.entry("intermediate_size", 6144),
            Map.entry("num_hidden_layers", 24), Map.entry("num_attention_heads", 32),
            Map.entry("num_key_value_heads", 4), Map.entry("hidden_act", "silu"),
            Map.entry("max_position_embeddings", 32768), Map.entry("rms_norm_eps", 1e-6),
            Map.entry("tie_word_embeddings", false), Map.entry("attention_bias", false),
            Map.entry("use_sliding_window", false), Map.entry("sliding_window", 4096),
            Map.entry("decoder_sparse_step", 1), Map.entry("moe_intermediate_size", 768),
            Map.entry("num_experts_per_tok", 8), Map.entry("num_experts", 128), Map.entry("norm_topk_prob", false),
            Map.entry("rope_theta", 10000.0));

    private static final Map<String, Object> MIXTRAL = Map.ofEntries(
            Map.entry("vocab_size", 32000), Map.entry("hidden_size", 4096), Map.entry("intermediate_size", 14336),
            Map.entry("num_hidden_layers", 32), Map.entry("num_attention_heads", 32),
            Map.entry("num_key_value_heads", 8), Map.entry("hidden_act", "silu"),
            Map.entry("max_position_embeddings", 4096 * 32), Map.entry("rms_norm_eps", 1e-5),
            Map.entry("bos_token_id", 1), Map.entry("eos_token_id", 2), Map.entry("tie_word_embeddings", false),
            Map.entry("num_experts_per_tok", 2), Map.entry("num_local_experts", 8), Map.entry("rope_theta", 1e6));

    /** transformers' attribute_map: another name a config.json may use for the same key. */
    private static final Map<String, Map<String, String>> ALIASES = Map.of(
            "deepseek_v3", Map.of("num_local_experts", "n_routed_experts"),
            "axk1", Map.of("num_local_experts", "n_routed_experts"),
            "qwen3_moe", Map.of("num_local_experts", "num_experts"),
            "mixtral", Map.of("num_experts", "num_local_experts"));

    static Map<String, Object> of(String modelType) {
        return switch (modelType) {
            case "deepseek_v3" -> DEEPSEEK_V3;
            case "axk1" -> AXK1;
            case "qwen3_moe" -> QWEN3_MOE;
            case "mixtral" -> MIXTRAL;
            default -> throw new IllegalArgumentException("no defaults for model_type " + modelType);
        };
    }

    /** config.json with aliases resolved and every key it lacks set to transformers' default. */
    static Map<String, Object> apply(String modelType, Map<String, Object> config) {
        Map<String, Object> out = new LinkedHashMap<>(config);
        ALIASES.getOrDefault(modelType, Map.of()).forEach((alias, key) -> {
            if (out.containsKey(alias) && !out.containsKey(key)) out.put(key, out.get(alias));
        });
        // not putIfAbsent: that replaces an explicit null, which means something of its own
        of(modelType).forEach((key, value) -> {
            if (!out.containsKey(key)) out.put(key, value);
        });
        return out;
    }

    private static Map<String, Object> override(Map<String, Object> base, Map<String, Object> changes) {
        Map<String, Object> out = new HashMap<>(base);
        out.putAll(changes);
        return Map.copyOf(out);
    }
}
