package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.B_QUARTER;
import static dev.nuri.kernels.ops.VectorShapes.F;

import dev.nuri.kernels.weights.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * ggml's Q8_0: each run of 32 weights along a row is int8 times one scale (amax/127). Produced at load
 * time from any other type; the scale is kept as float (ggml stores fp16) since it is 1/32 of the bytes.
 */
public final class Q8Matrix extends WeightMatrix {
    public static final int BLOCK = 32;
    private final MemorySegment quants;
    private final float[] scales;

    private Q8Matrix(int rows, int cols, MemorySegment quants, float[] scales) {
        super(rows, cols);
        this.quants = quants;
        this.scales = scales;
    }

    static Q8Matrix quantize(WeightMatrix w) {
        if (w.cols() % BLOCK != 0) {
            throw new IllegalArgumentException("Q8_0 needs cols divisible by " + BLOCK + ", got " + w.cols());
        }
        int rows = w.rows(), cols = w.cols();
        MemorySegment q = Arena.ofAuto().allocate((long) rows * cols, 64);
        float[] scales = new float[rows * (cols / BLOCK)];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(r, 0, cols, row, 0);
            for (int b = 0; b < cols / BLOCK; b++) {
                float amax = 0;
                for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(row[b * BLOCK + j]));
                float d = amax / 127f;
                float inv = d == 0 ? 0 : 1 / d;
                scales[r * (cols / BLOCK) + b] = d;
                for (int j = 0; j < BLOCK; j++) {
                    q.set(ValueLayout.JAVA_BYTE, (long) r * cols + b * BLOCK + j, (byte) Math.round(row[b * BLOCK + j] * inv));
                }
            }
        }
        return new Q8Matrix(rows, cols, q, scales);
    }

    @Override
    public DType dtype() {
        return DType.Q8_0;
    }

    @Override
    public long bytes() {
        return (long) rows * cols + scales.length * 4L;
    }

    // The widening load is written out at each use, not in a helper returning a vector: such a helper left
    // out-of-line by C2 (its node budget, the call site's profile) boxes every vector (see Bf16Matrix).

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols;
        int sBase = row * (cols / BLOCK);
        int step = F.length();
        FloatVector t0 = FloatVector.zero(F), t1 = FloatVector.zero(F);
        if (step <= BLOCK) {
            // two blocks per iteration into separate totals so the FMA chains overlap
            int b = 0, nb = cols / BLOCK;
            for (; b + 1 < nb; b += 2) {
                int c = b * BLOCK;
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int j = 0; j < BLOCK; j += step) {
                    s0 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, base + c + j, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + c + j), s0);
                    s1 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, base + c + BLOCK + j, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + c + BLOCK + j), s1);
                }
                t0 = s0.fma(FloatVector.broadcast(F, scales[sBase + b]), t0);
                t1 = s1.fma(FloatVector.broadcast(F, scales[sBase + b + 1]), t1);
            }
            for (; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector s0 = FloatVector.zero(F);
                for (int j = 0; j < BLOCK; j += step) {
                    s0 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, base + c + j, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + c + j), s0);
                }
                t0 = s0.fma(FloatVector.broadcast(F, scales[sBase + b]), t0);
            }
            return t0.add(t1).reduceLanes(VectorOperators.ADD);
        }
        float s = 0;
        for (int c = 0; c < cols; c++) s += quants.get(ValueLayout.JAVA_BYTE, base + c) * scales[sBase + c / BLOCK] * x[xOff + c];
        return s;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = (long) row * cols;
        int sBase = row * (cols / BLOCK);
        for (int j = 0; j < len; j++) {
            int c = col0 + j;
            dst[dstOff + j] = quants.get(ValueLayout.JAVA_BYTE, base + c) * scales[sBase + c / BLOCK];
        }
    }
}
