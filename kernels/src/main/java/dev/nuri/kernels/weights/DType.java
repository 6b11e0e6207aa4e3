package dev.nuri.kernels.weights;

/** Element types of weight tensors. {@link #Q8_0} never appears in a file: it is produced at load time. */
public enum DType {
    F32("F32", 4),
    BF16("BF16", 2),
    F16("F16", 2),
    /** FP8 e4m3 (finite-only variant, max 448); DeepSeek pairs it with 128×128 block scales ({@code weight_scale_inv}). */
    F8_E4M3("F8_E4M3", 1),
    /** Blocks of 32 int8 values with one float scale (ggml's Q8_0 layout, scales kept in a separate array). */
    Q8_0("Q8_0", 1);

    private final String safetensorsName;
    private final int bytes;

    DType(String safetensorsName, int bytes) {
        this.safetensorsName = safetensorsName;
        this.bytes = bytes;
    }

    /** Bytes per element of the quantized payload (scales not counted). */
    public int bytes() {
        return bytes;
    }

    public static DType fromSafetensors(String name, String tensor) {
        for (DType t : values()) {
            if (t != Q8_0 && t.safetensorsName.equals(name)) return t;
        }
        throw new WeightFormatException("tensor '" + tensor + "' has dtype " + name
                + ", which Nuri cannot use; supported: F32, BF16, F16, F8_E4M3 (convert the checkpoint to one of these)");
    }
}
