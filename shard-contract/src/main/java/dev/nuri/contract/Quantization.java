package dev.nuri.contract;

import java.util.Locale;

/**
 * {@code NURI_QUANTIZATION}: the weight format asked for. {@link #BF16} and {@link #FP8} mean "run the checkpoint as
 * stored" (a contradicting checkpoint is only warned about, never converted); {@link #Q8_0} re-quantises the linear
 * weights to Q8_0 blocks at load time (kernels' {@code LoadOptions}). The operator's CRD field
 * {@code spec.model.quantization} takes the same values.
 */
public enum Quantization {
    BF16("bf16"),
    FP8("fp8"),
    Q8_0("q8_0");

    private final String value;

    Quantization(String value) {
        this.value = value;
    }

    /** The spelling in the environment and the CRD. */
    public String value() {
        return value;
    }

    /** Null (or blank) means "the checkpoint's own types". */
    public static Quantization parse(String v) {
        if (v == null || v.isBlank()) return null;
        String s = v.trim().toLowerCase(Locale.ROOT);
        for (Quantization q : values()) if (q.value.equals(s)) return q;
        throw new IllegalArgumentException(ShardSetting.QUANTIZATION.names() + " must be bf16, fp8 or q8_0, got '" + v + "'");
    }
}
