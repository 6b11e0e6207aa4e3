package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;
import static dev.nuri.kernels.ops.VectorShapes.I;
import static dev.nuri.kernels.ops.VectorShapes.S_HALF;

import dev.nuri.kernels.weights.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** bfloat16 is the top half of a float32, so widening is a 16-bit shift. */
public final class Bf16Matrix extends WeightMatrix {
    private static final ValueLayout.OfShort LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final MemorySegment data;

    Bf16Matrix(int rows, int cols, MemorySegment data) {
        super(rows, cols);
        this.data = data;
    }

    public static float toFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    @Override
    public DType dtype() {
        return DType.BF16;
    }

    @Override
    public long bytes() {
        return (long) rows * cols * 2;
    }

    private FloatVector load(long byteOffset) {
        return ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, byteOffset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols * 2;
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        int i = 0;
        for (; i + 4 * step <= cols; i += 4 * step) {
            long o = base + (long) i * 2;
            a0 = load(o).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = load(o + step * 2L).fma(FloatVector.fromArray(F, x, xOff + i + step), a1);
            a2 = load(o + step * 4L).fma(FloatVector.fromArray(F, x, xOff + i + 2 * step), a2);
            a3 = load(o + step * 6L).fma(FloatVector.fromArray(F, x, xOff + i + 3 * step), a3);
        }
        for (; i + step <= cols; i += step) {
            a0 = load(base + (long) i * 2).fma(FloatVector.fromArray(F, x, xOff + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) s += toFloat(data.get(LE, base + (long) i * 2)) * x[xOff + i];
        return s;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = ((long) row * cols + col0) * 2;
        int step = F.length();
        int j = 0;
        for (; j + step <= len; j += step) load(base + (long) j * 2).intoArray(dst, dstOff + j);
        for (; j < len; j++) dst[dstOff + j] = toFloat(data.get(LE, base + (long) j * 2));
    }
}
