package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Model architectures the worker's kernels implement. */
public enum Architecture {
    @JsonProperty("axk1") AXK1,
    @JsonProperty("deepseek_v3") DEEPSEEK_V3,
    @JsonProperty("qwen3_moe") QWEN3_MOE,
    @JsonProperty("mixtral") MIXTRAL
}
