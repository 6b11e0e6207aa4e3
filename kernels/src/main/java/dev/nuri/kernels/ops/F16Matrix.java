package dev.nuri.kernels.ops;

import dev.nuri.kernels.weights.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** IEEE half precision. Rare in MoE checkpoints, so scalar (Float.float16ToFloat is a C2 intrinsic). */
public final class F16Matrix extends WeightMatrix {
    private static final ValueLayout.OfShort LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment data;

    F16Matrix(int rows, int cols, MemorySegment data) {
        super(rows, cols);
        this.data = data;
    }

    @Override
    MemorySegment stored() {
        return data;
    }

    @Override
    public DType dtype() {
        return DType.F16;
    }

    @Override
    public long bytes() {
        return (long) rows * cols * 2;
    }

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols * 2;
        float s0 = 0, s1 = 0;
        int i = 0;
        for (; i + 1 < cols; i += 2) {
            s0 += Float.float16ToFloat(data.get(LE, base + (long) i * 2)) * x[xOff + i];
            s1 += Float.float16ToFloat(data.get(LE, base + (long) i * 2 + 2)) * x[xOff + i + 1];
        }
        if (i < cols) s0 += Float.float16ToFloat(data.get(LE, base + (long) i * 2)) * x[xOff + i];
        return s0 + s1;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = ((long) row * cols + col0) * 2;
        for (int j = 0; j < len; j++) dst[dstOff + j] = Float.float16ToFloat(data.get(LE, base + (long) j * 2));
    }
}
