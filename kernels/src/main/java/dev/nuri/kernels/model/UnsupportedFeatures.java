package dev.nuri.kernels.model;

import dev.nuri.kernels.weights.WeightFormatException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Refuses a config.json that asks for computation the kernels do not implement, naming the field and its value,
 * instead of loading it and producing other tokens than transformers would. Checked on the config with
 * transformers' defaults filled in (see {@link TransformersDefaults}).
 */
final class UnsupportedFeatures {
    private UnsupportedFeatures() {}

    /** transformers' ACT2FN maps both names to SiLU, the only activation of Nuri's MLPs. */
    private static final Set<String> SILU = Set.of("silu", "swish");

    static void check(String modelType, Map<String, Object> c) {
        if (!(c.get("hidden_act") instanceof String act) || !SILU.contains(act)) {
            refuse("hidden_act", c.get("hidden_act"), "the MLP kernels compute SiLU (silu, swish) only");
        }
        if (Boolean.TRUE.equals(c.get("attention_bias"))) {
            refuse("attention_bias", true, "the attention projections have no bias in Nuri's kernels");
        }
        // Qwen3-MoE applies sliding_window only with use_sliding_window (transformers nulls it otherwise)
        boolean qwen = modelType.equals("qwen3_moe");
        if (qwen && Boolean.TRUE.equals(c.get("use_sliding_window"))) {
            refuse("use_sliding_window", true, "attention is over the whole context in Nuri's kernels");
        }
        if (!qwen && c.get("sliding_window") != null) {
            refuse("sliding_window", c.get("sliding_window"), "attention is over the whole context in Nuri's kernels");
        }
        if (c.get("layer_types") instanceof List<?> types) {
            for (int i = 0; i < types.size(); i++) {
                if (!"full_attention".equals(types.get(i))) {
                    refuse("layer_types[" + i + "]", types.get(i), "every layer attends to the whole context in Nuri's kernels");
                }
            }
        }
        checkPartialRotary("partial_rotary_factor", c.get("partial_rotary_factor"));
        if (rope(c) instanceof Map<?, ?> rope) {
            checkPartialRotary("rope_parameters.partial_rotary_factor", rope.get("partial_rotary_factor"));
            for (Map.Entry<?, ?> e : rope.entrySet()) {
                if (e.getValue() instanceof Map<?, ?>) {
                    refuse("rope_parameters." + e.getKey(), e.getValue(),
                            "one RoPE for every layer is what Nuri's kernels apply, not one per layer type");
                }
            }
        }
        if (c.get("quantization_config") != null) checkQuantization(c.get("quantization_config"));
        if (modelType.equals("axk1") || modelType.equals("deepseek_v3")) {
            // transformers hard-codes sigmoid + noaux_tc; DeepSeek's own code reads these keys and would differ
            if (c.containsKey("scoring_func") && !"sigmoid".equals(c.get("scoring_func"))) {
                refuse("scoring_func", c.get("scoring_func"), "the router scores experts with a sigmoid only");
            }
            if (c.containsKey("topk_method") && !"noaux_tc".equals(c.get("topk_method"))) {
                refuse("topk_method", c.get("topk_method"), "the router chooses experts by noaux_tc only");
            }
        }
    }

    private static Object rope(Map<String, Object> c) {
        return c.get("rope_parameters") != null ? c.get("rope_parameters") : c.get("rope_scaling");
    }

    private static void checkPartialRotary(String field, Object value) {
        if (value == null) return;
        if (!(value instanceof Number n) || n.doubleValue() != 1.0) {
            refuse(field, value, "RoPE rotates the whole rotary head dimension in Nuri's kernels");
        }
    }

    /** DeepSeek's release: FP8 e4m3 weights with 128×128 block scales, activations left in float. */
    private static void checkQuantization(Object q) {
        if (!(q instanceof Map<?, ?> m)) {
            refuse("quantization_config", q, "expected an object");
            return;
        }
        if (!"fp8".equals(m.get("quant_method"))) {
            refuse("quantization_config.quant_method", m.get("quant_method"),
                    "the loader reads FP8 checkpoints (quant_method fp8); Q8_0 is made at load with --quantize q8_0");
        }
        if (m.containsKey("fmt") && !"e4m3".equals(m.get("fmt"))) {
            refuse("quantization_config.fmt", m.get("fmt"), "FP8 weights are read as e4m3 only");
        }
        if (m.containsKey("activation_scheme") && !"dynamic".equals(m.get("activation_scheme"))) {
            refuse("quantization_config.activation_scheme", m.get("activation_scheme"),
                    "activations stay in float; static activation scales are not applied");
        }
        Object block = m.get("weight_block_size");
        if (m.containsKey("weight_block_size") && !(block instanceof List<?> b && b.size() == 2
                && b.stream().allMatch(x -> x instanceof Number n && n.doubleValue() == 128))) {
            refuse("quantization_config.weight_block_size", block, "FP8 block scales are read in 128×128 blocks only");
        }
    }

    private static void refuse(String field, Object value, String why) {
        String shown = value instanceof String s ? "\"" + s + "\"" : value instanceof Map<?, ?> ? "{...}" : String.valueOf(value);
        throw new WeightFormatException("config.json: " + field + " = " + shown
                + " is not supported: " + why + "; loading it would compute other tokens than the checkpoint's model");
    }
}
