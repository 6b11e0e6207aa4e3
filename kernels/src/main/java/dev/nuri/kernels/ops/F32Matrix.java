package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import dev.nuri.kernels.weights.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

public final class F32Matrix extends WeightMatrix {
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment data;

    F32Matrix(int rows, int cols, MemorySegment data) {
        super(rows, cols);
        this.data = data;
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public long bytes() {
        return (long) rows * cols * 4;
    }

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols * 4;
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        int i = 0;
        for (; i + 4 * step <= cols; i += 4 * step) {
            long o = base + (long) i * 4;
            a0 = FloatVector.fromMemorySegment(F, data, o, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = FloatVector.fromMemorySegment(F, data, o + step * 4L, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOff + i + step), a1);
            a2 = FloatVector.fromMemorySegment(F, data, o + step * 8L, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOff + i + 2 * step), a2);
            a3 = FloatVector.fromMemorySegment(F, data, o + step * 12L, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOff + i + 3 * step), a3);
        }
        for (; i + step <= cols; i += step) {
            a0 = FloatVector.fromMemorySegment(F, data, base + (long) i * 4, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, x, xOff + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) s += data.get(LE, base + (long) i * 4) * x[xOff + i];
        return s;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        MemorySegment.copy(data, LE, ((long) row * cols + col0) * 4, dst, dstOff, len);
    }
}
