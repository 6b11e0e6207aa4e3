package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.B_QUARTER;
import static dev.nuri.kernels.ops.VectorShapes.F;
import static dev.nuri.kernels.ops.VectorShapes.I;

import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Fp8E4m3;
import dev.nuri.kernels.weights.Tensor;
import dev.nuri.kernels.weights.WeightFormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * FP8 e4m3 weight with DeepSeek's 128×128 block scales: W[r][c] = fp8[r][c] · scale_inv[r/128][c/128].
 * Each 128-column block is accumulated unscaled, then scaled once (scale pre-multiplied by 2^120, see Fp8E4m3).
 */
public final class Fp8BlockMatrix extends WeightMatrix {
    public static final int BLOCK = 128;
    private final MemorySegment data;
    private final float[] scales; // [ceil(rows/128) * ceil(cols/128)], times 2^120
    private final int blockCols;

    Fp8BlockMatrix(int rows, int cols, MemorySegment data, Tensor scaleInv) {
        super(rows, cols);
        this.data = data;
        int br = (rows + BLOCK - 1) / BLOCK;
        this.blockCols = (cols + BLOCK - 1) / BLOCK;
        if (scaleInv.rank() != 2 || scaleInv.shape()[0] != br || scaleInv.shape()[1] != blockCols) {
            throw new WeightFormatException("block scales '" + scaleInv.name() + "' have shape "
                    + java.util.Arrays.toString(scaleInv.shape()) + " but a [" + rows + ", " + cols
                    + "] FP8 weight needs [" + br + ", " + blockCols + "] (128×128 blocks)");
        }
        float[] s = scaleInv.toFloatArray();
        for (int i = 0; i < s.length; i++) s[i] *= Fp8E4m3.BIAS_SCALE;
        this.scales = s;
    }

    @Override
    MemorySegment stored() {
        return data;
    }

    @Override
    public DType dtype() {
        return DType.F8_E4M3;
    }

    @Override
    public long bytes() {
        return (long) rows * cols + scales.length * 4L;
    }

    /*
     * FP8 bytes → floats scaled by 2^-120 (shift only): (v & 0x80) << 24 | (v & 0x7F) << 20 of the bytes
     * widened to ints. Written out at each use, not in a helper returning a vector: such a helper left
     * out-of-line by C2 (its node budget, the call site's profile) boxes every vector (see Bf16Matrix).
     */

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols;
        int scaleRow = (row / BLOCK) * blockCols;
        int step = F.length();
        FloatVector total = FloatVector.zero(F);
        float tail = 0;
        for (int c0 = 0; c0 < cols; c0 += BLOCK) {
            int end = Math.min(cols, c0 + BLOCK);
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
            int i = c0;
            for (; i + 2 * step <= end; i += 2 * step) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B_QUARTER, data, base + i, java.nio.ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                FloatVector w = q.and(0x80).lanewise(VectorOperators.LSHL, 24).or(q.and(0x7F).lanewise(VectorOperators.LSHL, 20))
                        .reinterpretAsFloats();
                a0 = w.fma(FloatVector.fromArray(F, x, xOff + i), a0);
                q = (IntVector) ByteVector.fromMemorySegment(B_QUARTER, data, base + i + step, java.nio.ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                w = q.and(0x80).lanewise(VectorOperators.LSHL, 24).or(q.and(0x7F).lanewise(VectorOperators.LSHL, 20))
                        .reinterpretAsFloats();
                a1 = w.fma(FloatVector.fromArray(F, x, xOff + i + step), a1);
            }
            for (; i + step <= end; i += step) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B_QUARTER, data, base + i, java.nio.ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                FloatVector w = q.and(0x80).lanewise(VectorOperators.LSHL, 24).or(q.and(0x7F).lanewise(VectorOperators.LSHL, 20))
                        .reinterpretAsFloats();
                a0 = w.fma(FloatVector.fromArray(F, x, xOff + i), a0);
            }
            float scale = scales[scaleRow + c0 / BLOCK];
            total = a0.add(a1).fma(FloatVector.broadcast(F, scale), total);
            for (; i < end; i++) tail += Fp8E4m3.toFloat(data.get(ValueLayout.JAVA_BYTE, base + i)) * x[xOff + i] * (scale / Fp8E4m3.BIAS_SCALE);
        }
        return total.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = (long) row * cols;
        int scaleRow = (row / BLOCK) * blockCols;
        int step = F.length();
        int j = 0;
        // vector path while a whole vector stays inside one scale block (BLOCK is a multiple of any lane count)
        for (; j + step <= len && (col0 + j) % BLOCK + step <= BLOCK; j += step) {
            int c = col0 + j;
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B_QUARTER, data, base + c, java.nio.ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2I, I, 0);
            FloatVector w = q.and(0x80).lanewise(VectorOperators.LSHL, 24).or(q.and(0x7F).lanewise(VectorOperators.LSHL, 20))
                    .reinterpretAsFloats();
            w.mul(scales[scaleRow + c / BLOCK]).intoArray(dst, dstOff + j);
        }
        for (; j < len; j++) {
            int c = col0 + j;
            dst[dstOff + j] = Fp8E4m3.toFloat(data.get(ValueLayout.JAVA_BYTE, base + c))
                    * (scales[scaleRow + c / BLOCK] / Fp8E4m3.BIAS_SCALE);
        }
    }
}
