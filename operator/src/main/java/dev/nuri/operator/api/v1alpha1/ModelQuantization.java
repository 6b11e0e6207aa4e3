package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.nuri.contract.Quantization;

/** spec.model.quantization: the CRD's spelling of the worker's {@link Quantization} (same values). */
public enum ModelQuantization {
    @JsonProperty("bf16") BF16(Quantization.BF16),
    @JsonProperty("fp8") FP8(Quantization.FP8),
    @JsonProperty("q8_0") Q8_0(Quantization.Q8_0);

    private final Quantization setting;

    ModelQuantization(Quantization setting) {
        this.setting = setting;
    }

    /** What the operator passes to the worker. */
    public Quantization setting() {
        return setting;
    }
}
