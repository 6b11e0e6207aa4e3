package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Accelerator families a shard can run on (docs/api.md; their resources and labels: AcceleratorProfiles). */
public enum AcceleratorProfile {
    @JsonProperty("rebellions-atom") REBELLIONS_ATOM,
    @JsonProperty("rebellions-rebel") REBELLIONS_REBEL,
    @JsonProperty("furiosa-rngd") FURIOSA_RNGD,
    @JsonProperty("huawei-ascend910") HUAWEI_ASCEND910,
    @JsonProperty("nvidia-gpu") NVIDIA_GPU,
    @JsonProperty("cpu") CPU
}
