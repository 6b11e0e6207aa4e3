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
    MemorySegment stored() {
        return data;
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

    /**
     * Four rows per pass: four sequential streams keep more cache-line fills in flight than one, and each
     * x vector is loaded once for four rows. Two column halves per iteration make eight FMA chains. The four
     * rows are a quarter of the range apart, not adjacent: with short rows (1–2 KB, an MoE expert's or
     * lm_head's) four adjacent rows interleave four streams inside one 4 KiB page, which the hardware
     * prefetcher does not follow (about half the read rate); a quarter apart, each stream runs through pages
     * of its own. Each row's sum is the same as with adjacent rows.
     */
    @Override
    void matvecRows(int r0, int r1, float[] x, int xOff, float[] out, int outOff) {
        int gap = (r1 - r0) / 4; // rows r0 + p + k·gap, k < 4: four streams, each through its own quarter
        for (int p = 0; p < gap; p++) dotRows4(r0 + p, gap, x, xOff, out, outOff + r0 + p);
        for (int r = r0 + 4 * gap; r < r1; r++) out[outOff + r] = dot(r, x, xOff);
    }

    /** Rows row + k·gap, k < 4, into out[outAt + k·gap] (see Bf16Matrix.pairedRows). */
    private void dotRows4(int row, int gap, float[] x, int xOff, float[] out, int outAt) {
        long g = (long) gap * cols * 4, r0 = (long) row * cols * 4, r1 = r0 + g, r2 = r1 + g, r3 = r2 + g;
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            long o = (long) i * 4;
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            FloatVector w0 = FloatVector.fromMemorySegment(F, data, r0 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w1 = FloatVector.fromMemorySegment(F, data, r1 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w2 = FloatVector.fromMemorySegment(F, data, r2 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w3 = FloatVector.fromMemorySegment(F, data, r3 + o, ByteOrder.LITTLE_ENDIAN);
            a0 = w0.fma(v, a0); a1 = w1.fma(v, a1); a2 = w2.fma(v, a2); a3 = w3.fma(v, a3);
            o += (long) step * 4;
            v = FloatVector.fromArray(F, x, xOff + i + step);
            w0 = FloatVector.fromMemorySegment(F, data, r0 + o, ByteOrder.LITTLE_ENDIAN);
            w1 = FloatVector.fromMemorySegment(F, data, r1 + o, ByteOrder.LITTLE_ENDIAN);
            w2 = FloatVector.fromMemorySegment(F, data, r2 + o, ByteOrder.LITTLE_ENDIAN);
            w3 = FloatVector.fromMemorySegment(F, data, r3 + o, ByteOrder.LITTLE_ENDIAN);
            b0 = w0.fma(v, b0); b1 = w1.fma(v, b1); b2 = w2.fma(v, b2); b3 = w3.fma(v, b3);
        }
        float[] s = {a0.add(b0).reduceLanes(VectorOperators.ADD), a1.add(b1).reduceLanes(VectorOperators.ADD),
                a2.add(b2).reduceLanes(VectorOperators.ADD), a3.add(b3).reduceLanes(VectorOperators.ADD)};
        for (int k = 0; k < 4; k++) {
            float t = s[k];
            for (int j = i; j < cols; j++) t += data.get(LE, r0 + k * g + (long) j * 4) * x[xOff + j];
            out[outAt + k * gap] = t;
        }
    }

    @Override
    boolean hasDot4() {
        return true;
    }

    @Override
    void dot4(int row, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        long base = (long) row * cols * 4;
        int step = F.length();
        // two column halves per iteration: eight independent FMA chains hide the FMA latency
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            FloatVector w = FloatVector.fromMemorySegment(F, data, base + (long) i * 4, ByteOrder.LITTLE_ENDIAN);
            a0 = w.fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = w.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = w.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = w.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            w = FloatVector.fromMemorySegment(F, data, base + (long) (i + step) * 4, ByteOrder.LITTLE_ENDIAN);
            b0 = w.fma(FloatVector.fromArray(F, x, x0 + i + step), b0);
            b1 = w.fma(FloatVector.fromArray(F, x, x1 + i + step), b1);
            b2 = w.fma(FloatVector.fromArray(F, x, x2 + i + step), b2);
            b3 = w.fma(FloatVector.fromArray(F, x, x3 + i + step), b3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) {
            float v = data.get(LE, base + (long) i * 4);
            s0 += v * x[x0 + i];
            s1 += v * x[x1 + i];
            s2 += v * x[x2 + i];
            s3 += v * x[x3 + i];
        }
        res[0] = s0;
        res[1] = s1;
        res[2] = s2;
        res[3] = s3;
    }

    /** res[4 * i + j] = W[row + i·gap] · x[xo_j ..], i, j < 4: four rows share each token load. */
    @Override
    void dot4x4(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        long g = (long) gap * cols * 4, r0 = (long) row * cols * 4, r1 = r0 + g, r2 = r1 + g, r3 = r2 + g;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int i = 0;
        for (; i + step <= cols; i += step) {
            long o = (long) i * 4;
            FloatVector w0 = FloatVector.fromMemorySegment(F, data, r0 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w1 = FloatVector.fromMemorySegment(F, data, r1 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w2 = FloatVector.fromMemorySegment(F, data, r2 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector w3 = FloatVector.fromMemorySegment(F, data, r3 + o, ByteOrder.LITTLE_ENDIAN);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            c00 = w0.fma(v, c00); c10 = w1.fma(v, c10); c20 = w2.fma(v, c20); c30 = w3.fma(v, c30);
            v = FloatVector.fromArray(F, x, x1 + i);
            c01 = w0.fma(v, c01); c11 = w1.fma(v, c11); c21 = w2.fma(v, c21); c31 = w3.fma(v, c31);
            v = FloatVector.fromArray(F, x, x2 + i);
            c02 = w0.fma(v, c02); c12 = w1.fma(v, c12); c22 = w2.fma(v, c22); c32 = w3.fma(v, c32);
            v = FloatVector.fromArray(F, x, x3 + i);
            c03 = w0.fma(v, c03); c13 = w1.fma(v, c13); c23 = w2.fma(v, c23); c33 = w3.fma(v, c33);
        }
        // reduced here, not in a helper: a helper left out-of-line (C2's node budget) boxes its vector arguments
        res[0] = c00.reduceLanes(VectorOperators.ADD); res[1] = c01.reduceLanes(VectorOperators.ADD);
        res[2] = c02.reduceLanes(VectorOperators.ADD); res[3] = c03.reduceLanes(VectorOperators.ADD);
        res[4] = c10.reduceLanes(VectorOperators.ADD); res[5] = c11.reduceLanes(VectorOperators.ADD);
        res[6] = c12.reduceLanes(VectorOperators.ADD); res[7] = c13.reduceLanes(VectorOperators.ADD);
        res[8] = c20.reduceLanes(VectorOperators.ADD); res[9] = c21.reduceLanes(VectorOperators.ADD);
        res[10] = c22.reduceLanes(VectorOperators.ADD); res[11] = c23.reduceLanes(VectorOperators.ADD);
        res[12] = c30.reduceLanes(VectorOperators.ADD); res[13] = c31.reduceLanes(VectorOperators.ADD);
        res[14] = c32.reduceLanes(VectorOperators.ADD); res[15] = c33.reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) {
            for (int r = 0; r < 4; r++) {
                float v = data.get(LE, r0 + r * g + (long) i * 4);
                res[4 * r] += v * x[x0 + i];
                res[4 * r + 1] += v * x[x1 + i];
                res[4 * r + 2] += v * x[x2 + i];
                res[4 * r + 3] += v * x[x3 + i];
            }
        }
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        MemorySegment.copy(data, LE, ((long) row * cols + col0) * 4, dst, dstOff, len);
    }
}
