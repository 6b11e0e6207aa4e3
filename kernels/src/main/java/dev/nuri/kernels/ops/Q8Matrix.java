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
 * ggml's Q8_0: each run of 32 weights along a row is int8 times one scale (amax/127), stored as fp16 as ggml
 * does: 34 bytes per 32 weights. Produced at load time from any other type. (Float scales were 36 bytes: an A.X
 * K1-sized shard's scales alone are 1/8 of its experts, and a decoded token reads them all.)
 */
public final class Q8Matrix extends WeightMatrix {
    public static final int BLOCK = 32;
    /**
     * The few-token tiles' lane sums: each accumulator stored and its lanes added in order, so a (row, token)
     * sums the same whichever tile, and whichever JIT tier, computed it (reduceLanes adds the lanes in another
     * order once C2 compiles it than interpreted, and the tiles are separate methods compiled at different times).
     */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[8 * F.length()]);
    /** BLOCK == 1 << BLOCK_SHIFT: a column's block in the few-token tiles. */
    private static final int BLOCK_SHIFT = 5;
    private final MemorySegment quants;
    private final short[] scales; // fp16 bits, row-major: row r's block b at r * (cols / BLOCK) + b

    private Q8Matrix(int rows, int cols, MemorySegment quants, short[] scales) {
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
        short[] scales = new short[rows * (cols / BLOCK)];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(r, 0, cols, row, 0);
            for (int b = 0; b < cols / BLOCK; b++) {
                float amax = 0;
                for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(row[b * BLOCK + j]));
                short half = Float.floatToFloat16(amax / 127f);
                scales[r * (cols / BLOCK) + b] = half;
                // quantised against the stored (rounded) scale, so that a weight is within half a step of what it reads back
                float d = Float.float16ToFloat(half);
                float inv = d == 0 ? 0 : 1 / d;
                for (int j = 0; j < BLOCK; j++) {
                    int v = Math.clamp(Math.round(row[b * BLOCK + j] * inv), -127, 127);
                    q.set(ValueLayout.JAVA_BYTE, (long) r * cols + b * BLOCK + j, (byte) v);
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
        return (long) rows * cols + scales.length * 2L;
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
                t0 = s0.fma(FloatVector.broadcast(F, scale(sBase + b)), t0);
                t1 = s1.fma(FloatVector.broadcast(F, scale(sBase + b + 1)), t1);
            }
            for (; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector s0 = FloatVector.zero(F);
                for (int j = 0; j < BLOCK; j += step) {
                    s0 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, base + c + j, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, xOff + c + j), s0);
                }
                t0 = s0.fma(FloatVector.broadcast(F, scale(sBase + b)), t0);
            }
            return t0.add(t1).reduceLanes(VectorOperators.ADD);
        }
        float s = 0;
        for (int c = 0; c < cols; c++) s += quants.get(ValueLayout.JAVA_BYTE, base + c) * scale(sBase + c / BLOCK) * x[xOff + c];
        return s;
    }

    /**
     * Four rows per pass (four sequential streams, each x vector loaded once for four rows); each row's block
     * is summed unscaled, then scaled once. Each row's block sum runs as two FMA chains (even and odd vectors
     * of the block), added before the scale: with one chain per row the four rows gave four chains, and the
     * FMA latency, not memory, bounded the kernel on AVX2 (34% of the read rate per CPU-second; 57% with two).
     * The four rows are a quarter of the range apart, each stream in pages of its own (see Bf16Matrix.pairedRows).
     */
    @Override
    void matvecRows(int r0, int r1, float[] x, int xOff, float[] out, int outOff) {
        int gap = 2 * F.length() <= BLOCK ? (r1 - r0) / 4 : 0; // rows r0 + p + k·gap, k < 4
        for (int p = 0; p < gap; p++) dotRows4(r0 + p, gap, x, xOff, out, outOff + r0 + p);
        for (int r = r0 + 4 * gap; r < r1; r++) out[outOff + r] = dot(r, x, xOff);
    }

    /** Rows row + k·gap, k < 4, into out[outAt + k·gap]. */
    private void dotRows4(int row, int gap, float[] x, int xOff, float[] out, int outAt) {
        long g = (long) gap * cols, q0 = (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        int step = F.length();
        FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
        for (int b = 0; b < nb; b++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
            for (int j = 0; j < BLOCK; j += 2 * step) {
                int c = b * BLOCK + j, d = c + step;
                FloatVector v = FloatVector.fromArray(F, x, xOff + c), u = FloatVector.fromArray(F, x, xOff + d);
                a0 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                e0 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + d, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(u, e0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                e1 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + d, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(u, e1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q2 + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                e2 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q2 + d, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(u, e2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q3 + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                e3 = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q3 + d, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).fma(u, e3);
            }
            t0 = a0.add(e0).fma(FloatVector.broadcast(F, scale(s0 + b)), t0);
            t1 = a1.add(e1).fma(FloatVector.broadcast(F, scale(s1 + b)), t1);
            t2 = a2.add(e2).fma(FloatVector.broadcast(F, scale(s2 + b)), t2);
            t3 = a3.add(e3).fma(FloatVector.broadcast(F, scale(s3 + b)), t3);
        }
        out[outAt] = t0.reduceLanes(VectorOperators.ADD);
        out[outAt + gap] = t1.reduceLanes(VectorOperators.ADD);
        out[outAt + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
        out[outAt + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
    }

    @Override
    boolean hasDot4() {
        return F.length() <= BLOCK;
    }

    /** W[row] · four tokens: each weight vector widened and scaled once for the four (see {@link FewTokensGemm}). */
    @Override
    void dot4(int row, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        long q = (long) row * cols;
        int nb = cols / BLOCK, sb = row * nb;
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < nb; b++) {
            FloatVector d = FloatVector.broadcast(F, scale(sb + b));
            for (int j = 0; j < BLOCK; j += step) {
                int c = b * BLOCK + j;
                FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q + c, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d);
                a0 = w.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                a1 = w.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                a2 = w.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                a3 = w.fma(FloatVector.fromArray(F, x, x3 + c), a3);
            }
        }
        float[] lanes = LANES.get();
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, 1 * step);
        a2.intoArray(lanes, 2 * step);
        a3.intoArray(lanes, 3 * step);
        res[0] = sumLanes(lanes, 0);
        res[1] = sumLanes(lanes, 1 * step);
        res[2] = sumLanes(lanes, 2 * step);
        res[3] = sumLanes(lanes, 3 * step);
    }

    /*
     * The few-token tiles run one flat loop over the row, a vector at a time, each weight vector widened and
     * multiplied by its block's scale once for all the tile's tokens. A loop over blocks with an inner loop
     * over the block's vectors (as the GEMV has) ran these tiles at about half the speed. Every tile sums each
     * (row, token) in one FMA chain in column order, as dot4 does, so the results do not depend on the tile.
     */

    @Override
    void dot4x4(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        if (!TokenLanesGemm.SIXTEEN_REGISTERS) {
            dot4x4InOnePass(row, gap, x, x0, x1, x2, x3, res);
            return;
        }
        dot2x4(row, gap, x, x0, x1, x2, x3, res, 0);
        dot2x4(row + 2 * gap, gap, x, x0, x1, x2, x3, res, 8);
    }

    /**
     * dot4x4 with 32 vector registers (AVX-512): 16 accumulators, the four token vectors loaded once per column for the
     * four rows instead of once per pair of rows, the same sums as two dot2x4 passes.
     */
    private void dot4x4InOnePass(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        long g = (long) gap * cols, q0 = (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int c = 0; c < cols; c += step) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + c), v1 = FloatVector.fromArray(F, x, x1 + c);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + c), v3 = FloatVector.fromArray(F, x, x3 + c);
            int b = c >>> BLOCK_SHIFT;
            FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s0 + b));
            c00 = w.fma(v0, c00); c01 = w.fma(v1, c01); c02 = w.fma(v2, c02); c03 = w.fma(v3, c03);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s1 + b));
            c10 = w.fma(v0, c10); c11 = w.fma(v1, c11); c12 = w.fma(v2, c12); c13 = w.fma(v3, c13);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q2 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s2 + b));
            c20 = w.fma(v0, c20); c21 = w.fma(v1, c21); c22 = w.fma(v2, c22); c23 = w.fma(v3, c23);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q3 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s3 + b));
            c30 = w.fma(v0, c30); c31 = w.fma(v1, c31); c32 = w.fma(v2, c32); c33 = w.fma(v3, c33);
        }
        float[] lanes = LANES.get();
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, 1 * step);
        c02.intoArray(lanes, 2 * step);
        c03.intoArray(lanes, 3 * step);
        c10.intoArray(lanes, 4 * step);
        c11.intoArray(lanes, 5 * step);
        c12.intoArray(lanes, 6 * step);
        c13.intoArray(lanes, 7 * step);
        for (int j = 0; j < 8; j++) res[j] = sumLanes(lanes, j * step);
        c20.intoArray(lanes, 0);
        c21.intoArray(lanes, 1 * step);
        c22.intoArray(lanes, 2 * step);
        c23.intoArray(lanes, 3 * step);
        c30.intoArray(lanes, 4 * step);
        c31.intoArray(lanes, 5 * step);
        c32.intoArray(lanes, 6 * step);
        c33.intoArray(lanes, 7 * step);
        for (int j = 0; j < 8; j++) res[8 + j] = sumLanes(lanes, j * step);
    }

    @Override
    void dot4x3(int row, int gap, float[] x, int x0, int x1, int x2, float[] res) {
        dot2x3(row, gap, x, x0, x1, x2, res, 0);
        dot2x3(row + 2 * gap, gap, x, x0, x1, x2, res, 8);
    }

    /** dot4x4 for two tokens: 8 accumulators, two token vectors and a weight vector. */
    @Override
    void dot4x2(int row, int gap, float[] x, int x0, int x1, float[] res) {
        long g = (long) gap * cols, q0 = (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int c = 0; c < cols; c += step) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + c), v1 = FloatVector.fromArray(F, x, x1 + c);
            FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s0 + (c >>> BLOCK_SHIFT)));
            c00 = w.fma(v0, c00); c01 = w.fma(v1, c01);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s1 + (c >>> BLOCK_SHIFT)));
            c10 = w.fma(v0, c10); c11 = w.fma(v1, c11);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q2 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s2 + (c >>> BLOCK_SHIFT)));
            c20 = w.fma(v0, c20); c21 = w.fma(v1, c21);
            w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q3 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s3 + (c >>> BLOCK_SHIFT)));
            c30 = w.fma(v0, c30); c31 = w.fma(v1, c31);
        }
        float[] lanes = LANES.get();
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, 1 * step);
        c10.intoArray(lanes, 2 * step);
        c11.intoArray(lanes, 3 * step);
        c20.intoArray(lanes, 4 * step);
        c21.intoArray(lanes, 5 * step);
        c30.intoArray(lanes, 6 * step);
        c31.intoArray(lanes, 7 * step);
        res[0] = sumLanes(lanes, 0);
        res[1] = sumLanes(lanes, 1 * step);
        res[4] = sumLanes(lanes, 2 * step);
        res[5] = sumLanes(lanes, 3 * step);
        res[8] = sumLanes(lanes, 4 * step);
        res[9] = sumLanes(lanes, 5 * step);
        res[12] = sumLanes(lanes, 6 * step);
        res[13] = sumLanes(lanes, 7 * step);
    }

    /** res[at + 4 * i + j] = W[row + i·gap] · x[xo_j ..], i < 2, j < 4: eight accumulators. */
    private void dot2x4(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res, int at) {
        long q0 = (long) row * cols, q1 = q0 + (long) gap * cols;
        int nb = cols / BLOCK, s0 = row * nb, s1 = s0 + gap * nb;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (int c = 0; c < cols; c += step) {
            FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s0 + (c >>> BLOCK_SHIFT)));
            FloatVector u = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s1 + (c >>> BLOCK_SHIFT)));
            FloatVector v = FloatVector.fromArray(F, x, x0 + c);
            c00 = w.fma(v, c00); c10 = u.fma(v, c10);
            v = FloatVector.fromArray(F, x, x1 + c);
            c01 = w.fma(v, c01); c11 = u.fma(v, c11);
            v = FloatVector.fromArray(F, x, x2 + c);
            c02 = w.fma(v, c02); c12 = u.fma(v, c12);
            v = FloatVector.fromArray(F, x, x3 + c);
            c03 = w.fma(v, c03); c13 = u.fma(v, c13);
        }
        float[] lanes = LANES.get();
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, 1 * step);
        c02.intoArray(lanes, 2 * step);
        c03.intoArray(lanes, 3 * step);
        c10.intoArray(lanes, 4 * step);
        c11.intoArray(lanes, 5 * step);
        c12.intoArray(lanes, 6 * step);
        c13.intoArray(lanes, 7 * step);
        res[at] = sumLanes(lanes, 0);
        res[at + 1] = sumLanes(lanes, 1 * step);
        res[at + 2] = sumLanes(lanes, 2 * step);
        res[at + 3] = sumLanes(lanes, 3 * step);
        res[at + 4] = sumLanes(lanes, 4 * step);
        res[at + 5] = sumLanes(lanes, 5 * step);
        res[at + 6] = sumLanes(lanes, 6 * step);
        res[at + 7] = sumLanes(lanes, 7 * step);
    }

    /** dot2x4 for three tokens (res[at + 4 * i + 3] left as is). */
    private void dot2x3(int row, int gap, float[] x, int x0, int x1, int x2, float[] res, int at) {
        long q0 = (long) row * cols, q1 = q0 + (long) gap * cols;
        int nb = cols / BLOCK, s0 = row * nb, s1 = s0 + gap * nb;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
        for (int c = 0; c < cols; c += step) {
            FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s0 + (c >>> BLOCK_SHIFT)));
            FloatVector u = ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(s1 + (c >>> BLOCK_SHIFT)));
            FloatVector v = FloatVector.fromArray(F, x, x0 + c);
            c00 = w.fma(v, c00); c10 = u.fma(v, c10);
            v = FloatVector.fromArray(F, x, x1 + c);
            c01 = w.fma(v, c01); c11 = u.fma(v, c11);
            v = FloatVector.fromArray(F, x, x2 + c);
            c02 = w.fma(v, c02); c12 = u.fma(v, c12);
        }
        float[] lanes = LANES.get();
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, 1 * step);
        c02.intoArray(lanes, 2 * step);
        c10.intoArray(lanes, 3 * step);
        c11.intoArray(lanes, 4 * step);
        c12.intoArray(lanes, 5 * step);
        res[at] = sumLanes(lanes, 0);
        res[at + 1] = sumLanes(lanes, 1 * step);
        res[at + 2] = sumLanes(lanes, 2 * step);
        res[at + 4] = sumLanes(lanes, 3 * step);
        res[at + 5] = sumLanes(lanes, 4 * step);
        res[at + 6] = sumLanes(lanes, 5 * step);
    }

    /** Block i's scale (Float.float16ToFloat is one instruction on x86 with F16C, as C2 compiles it). */
    private float scale(int i) {
        return Float.float16ToFloat(scales[i]);
    }

    private static float sumLanes(float[] lanes, int at) {
        float s = 0;
        for (int i = 0; i < F.length(); i++) s += lanes[at + i];
        return s;
    }

    /** Block by block: the bytes widened to floats and multiplied by the block's scale, a vector at a time. */
    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = (long) row * cols;
        int sBase = row * (cols / BLOCK);
        int step = F.length();
        int j = 0;
        // vector path while a whole vector stays inside one block (BLOCK is a multiple of the lane count)
        for (; j + step <= len && step <= BLOCK && (col0 + j) % BLOCK + step <= BLOCK; j += step) {
            int c = col0 + j;
            ((FloatVector) ByteVector.fromMemorySegment(B_QUARTER, quants, base + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scale(sBase + c / BLOCK)).intoArray(dst, dstOff + j);
        }
        for (; j < len; j++) {
            int c = col0 + j;
            dst[dstOff + j] = quants.get(ValueLayout.JAVA_BYTE, base + c) * scale(sBase + c / BLOCK);
        }
    }
}
