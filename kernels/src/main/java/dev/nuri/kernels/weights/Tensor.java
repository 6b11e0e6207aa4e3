package dev.nuri.kernels.weights;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** A named, typed view over bytes of a mapped file (or of generated memory); never a copy. Row-major. */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {

    public Tensor {
        long expected = numel(shape) * dtype.bytes();
        if (data.byteSize() != expected) {
            throw new WeightFormatException("tensor '" + name + "' " + dtype + Arrays.toString(shape)
                    + " needs " + expected + " bytes but has " + data.byteSize());
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int rank() {
        return shape.length;
    }

    /** Sub-tensor {@code index} along the first dimension (an expert of a fused [E, ...] tensor). */
    public Tensor slice(int index) {
        if (shape.length < 2 || index < 0 || index >= shape[0]) {
            throw new IllegalArgumentException("cannot take slice " + index + " of " + name + Arrays.toString(shape));
        }
        long[] sub = Arrays.copyOfRange(shape, 1, shape.length);
        long bytes = numel(sub) * dtype.bytes();
        return new Tensor(name + "[" + index + "]", dtype, sub, data.asSlice(index * bytes, bytes));
    }

    /** Copies the tensor into a float array (for small tensors: norms, biases, scales). */
    public float[] toFloatArray() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        var le = java.nio.ByteOrder.LITTLE_ENDIAN;
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(le), 0, out, 0, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat(data.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), 2L * i) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(data.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), 2L * i));
                }
            }
            case F8_E4M3 -> {
                for (int i = 0; i < n; i++) out[i] = Fp8E4m3.toFloat(data.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i));
            }
            case Q8_0 -> throw new UnsupportedOperationException("Q8_0 tensors live in Q8Matrix");
        }
        return out;
    }

    /** Rows [from, to) of a 2-D tensor (e.g. the gate or up half of a fused gate_up_proj). */
    public Tensor rows(int from, int to) {
        if (shape.length != 2 || from < 0 || to > shape[0] || from >= to) {
            throw new IllegalArgumentException("cannot take rows " + from + ".." + to + " of " + this);
        }
        long rowBytes = shape[1] * dtype.bytes();
        return new Tensor(name + "[" + from + ":" + to + "]", dtype, new long[] {to - from, shape[1]},
                data.asSlice(from * rowBytes, (to - from) * rowBytes));
    }

    /** Throws a message naming the tensor when its shape is not the one the config implies. */
    public Tensor expectShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new WeightFormatException("tensor '" + name + "' has shape " + Arrays.toString(shape)
                    + " but config.json implies " + Arrays.toString(expected)
                    + "; the checkpoint and config.json do not belong together");
        }
        return this;
    }

    @Override
    public String toString() {
        return name + ":" + dtype + Arrays.toString(shape);
    }
}
