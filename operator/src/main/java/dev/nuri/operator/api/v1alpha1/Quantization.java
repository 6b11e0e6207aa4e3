package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Weight formats the worker's kernels execute. */
public enum Quantization {
    @JsonProperty("bf16") BF16,
    @JsonProperty("fp8") FP8,
    @JsonProperty("q8_0") Q8_0;

    /** Bytes per parameter, for the capacity estimate. Q8_0 stores 32 int8 values plus one fp16 scale. */
    public double bytesPerParameter() {
        return switch (this) {
            case BF16 -> 2.0;
            case FP8 -> 1.0;
            case Q8_0 -> 34.0 / 32.0;
        };
    }
}
