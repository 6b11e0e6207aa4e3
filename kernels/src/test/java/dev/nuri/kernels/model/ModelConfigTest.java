package dev.nuri.kernels.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nuri.kernels.weights.Json;
import dev.nuri.kernels.weights.WeightFormatException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * config.json fields: each one that would change the computation beyond what the kernels implement is refused
 * with its name and value; keys left out mean what transformers makes of them. The base configs are
 * transformers' own output: the golden fixtures (make_golden.py) and each config class's defaults
 * (make_config_defaults.py).
 */
class ModelConfigTest {

    static Map<String, Object> resource(String path) {
        try (InputStream in = ModelConfigTest.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("no test resource " + path);
            return Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A golden fixture's config.json with the given top-level keys replaced. */
    static Map<String, Object> golden(String fixture, String overrides) {
        Map<String, Object> c = resource("/golden/" + fixture + "/config.json");
        c.putAll(Json.parseObject(overrides));
        return c;
    }

    @ParameterizedTest(name = "{0} + {1}")
    @CsvSource(delimiter = '|', value = {
        "deepseekv3-f32 | {\"sliding_window\": 4096}                          | sliding_window = 4096",
        "mixtral-f32    | {\"sliding_window\": 4096}                          | sliding_window = 4096",
        "qwen3moe-f32   | {\"use_sliding_window\": true, \"sliding_window\": 64} | use_sliding_window = true",
        "qwen3moe-f32   | {\"layer_types\": [\"full_attention\", \"sliding_attention\", \"full_attention\", \"full_attention\"]} | layer_types[1] = \"sliding_attention\"",
        "deepseekv3-f32 | {\"attention_bias\": true}                          | attention_bias = true",
        "qwen3moe-f32   | {\"attention_bias\": true}                          | attention_bias = true",
        "axk1-f32       | {\"hidden_act\": \"gelu\"}                          | hidden_act = \"gelu\"",
        "mixtral-f32    | {\"hidden_act\": \"relu\"}                          | hidden_act = \"relu\"",
        "deepseekv3-f32 | {\"partial_rotary_factor\": 0.5}                    | partial_rotary_factor = 0.5",
        "qwen3moe-f32   | {\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0, \"partial_rotary_factor\": 0.25}} | rope_parameters.partial_rotary_factor = 0.25",
        "deepseekv3-f32 | {\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 10000.0, \"factor\": 8.0}} | rope_parameters.rope_type = \"llama3\"",
        "mixtral-f32    | {\"rope_parameters\": null, \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}} | rope_scaling.type = \"dynamic\"",
        "qwen3moe-f32   | {\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}} | rope_parameters.full_attention = {...}",
        "axk1-f32       | {\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128}} | quantization_config.quant_method = \"awq\"",
        "axk1-fp8       | {\"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e4m3\", \"weight_block_size\": [64, 64]}} | quantization_config.weight_block_size = [64, 64]",
        "axk1-fp8       | {\"quantization_config\": {\"quant_method\": \"fp8\", \"activation_scheme\": \"static\"}} | quantization_config.activation_scheme = \"static\"",
        "axk1-fp8       | {\"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e5m2\"}} | quantization_config.fmt = \"e5m2\"",
        "deepseekv3-f32 | {\"scoring_func\": \"softmax\"}                     | scoring_func = \"softmax\"",
        "deepseekv3-f32 | {\"topk_method\": \"greedy\"}                       | topk_method = \"greedy\"",
    })
    void refusesWhatTheKernelsDoNotCompute(String fixture, String overrides, String named) {
        Map<String, Object> config = golden(fixture, overrides);
        assertThatThrownBy(() -> ModelConfig.parse(config))
                .isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("config.json: " + named + " is not supported");
    }

    @ParameterizedTest(name = "{0} + {1}")
    @CsvSource(delimiter = '|', value = {
        // DeepSeek-V3's and A.X K1's released quantization_config, exactly
        "axk1-fp8       | {\"quantization_config\": {\"activation_scheme\": \"dynamic\", \"fmt\": \"e4m3\", \"quant_method\": \"fp8\", \"weight_block_size\": [128, 128]}}",
        "deepseekv3-f32 | {\"hidden_act\": \"swish\", \"partial_rotary_factor\": 1.0, \"sliding_window\": null}",
        "deepseekv3-f32 | {\"scoring_func\": \"sigmoid\", \"topk_method\": \"noaux_tc\"}",
        // Qwen3MoeConfig's own defaults: a window that use_sliding_window leaves off
        "qwen3moe-f32   | {\"use_sliding_window\": false, \"sliding_window\": 4096, \"layer_types\": [\"full_attention\", \"full_attention\", \"full_attention\", \"full_attention\"]}",
    })
    void acceptsWhatTheKernelsCompute(String fixture, String overrides) {
        ModelConfig c = ModelConfig.parse(golden(fixture, overrides));
        assertThat(c).usingRecursiveComparison().isEqualTo(ModelConfig.parse(golden(fixture, "{}")));
    }

    /** Parsing transformers' fully written default config and a config.json naming only the model type must agree. */
    @ParameterizedTest
    @ValueSource(strings = {"axk1", "deepseek_v3", "qwen3_moe", "mixtral"})
    void missingKeysTakeTransformersDefaults(String modelType) {
        ModelConfig written = ModelConfig.parse(resource("/config-defaults/" + modelType + ".json"));
        ModelConfig sparse = ModelConfig.parse(Json.parseObject("{\"model_type\": \"" + modelType + "\"}"));
        assertThat(sparse).usingRecursiveComparison().isEqualTo(written);
    }

    @Test
    void deepSeekDefaultsRouteAsTheReleasedModel() {
        // the keys whose old fallbacks (1 group, scale 1.0, no eos) routed and stopped differently
        ModelConfig c = ModelConfig.parse(Json.parseObject("{\"model_type\": \"deepseek_v3\"}"));
        Map<String, Object> t = resource("/config-defaults/deepseek_v3.json");
        assertThat(c.nGroup()).isEqualTo(((Number) t.get("n_group")).intValue());
        assertThat(c.topkGroup()).isEqualTo(((Number) t.get("topk_group")).intValue());
        assertThat((double) c.routedScalingFactor()).isEqualTo(((Number) t.get("routed_scaling_factor")).doubleValue());
        assertThat(c.eosTokenIds()).containsExactly(((Number) t.get("eos_token_id")).intValue());
        assertThat(c.bosTokenId()).isEqualTo(((Number) t.get("bos_token_id")).intValue());
    }

    @Test
    void explicitNullsMeanWhatTheyMeanInTransformers() {
        ModelConfig c = ModelConfig.parse(golden("deepseekv3-f32",
                "{\"q_lora_rank\": null, \"num_key_value_heads\": null, \"rope_interleave\": null}"));
        assertThat(c.qLoraRank()).as("q_lora_rank null: a plain q_proj").isZero();
        assertThat(c.numKeyValueHeads()).isEqualTo(c.numAttentionHeads());
        assertThat(c.ropeInterleave()).as("rope_interleave null is falsy in transformers").isFalse();
    }
}
