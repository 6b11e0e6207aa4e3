package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;
import static dev.nuri.kernels.ops.VectorShapes.I;
import static dev.nuri.kernels.ops.VectorShapes.S_HALF;
import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.AND;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2I;

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
    MemorySegment stored() {
        return data;
    }

    @Override
    public DType dtype() {
        return DType.BF16;
    }

    @Override
    public long bytes() {
        return (long) rows * cols * 2;
    }

    /*
     * The widening load (S_HALF shorts → ints → << 16 → floats, or an int load's shift and mask) is written out in
     * every kernel on purpose, not called through a helper: a helper that returns a vector must be inlined or C2
     * boxes the vector (a heap allocation per load), and whether C2 inlines a 39-byte helper depends on the call
     * site's profile and on how many IR nodes the kernel already has (NodeCountInliningCutoff). Measured: after a
     * batch-1 warm-up in the same JVM, a helper in the former 4 × 4 tile was left out-of-line and the MoE layer at
     * batch 8 ran 3× slower (137 young GCs in 25 calls against 6). The same holds for reductions: no helper taking
     * accumulators (the former store4).
     */

    @Override
    public float dot(int row, float[] x, int xOff) {
        long base = (long) row * cols * 2;
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        int i = 0;
        for (; i + 4 * step <= cols; i += 4 * step) {
            long o = base + (long) i * 2;
            a0 = ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, o, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, o + step * 2L, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F, x, xOff + i + step), a1);
            a2 = ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, o + step * 4L, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F, x, xOff + i + 2 * step), a2);
            a3 = ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, o + step * 6L, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F, x, xOff + i + 3 * step), a3);
        }
        for (; i + step <= cols; i += step) {
            a0 = ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, base + (long) i * 2, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F, x, xOff + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) s += toFloat(data.get(LE, base + (long) i * 2)) * x[xOff + i];
        return s;
    }

    /*
     * Every product (GEMV and few tokens, 1 .. TokenLanesGemm.MIN_TOKENS_BF16 - 1 tokens: single-stream decode, and an
     * MoE expert's share of a batched decode step) reads the weight as ints: one load of L ints holds 2L bf16
     * values; the even ones widen with a shift (the low half moved up), the odd ones with a mask (the high half
     * kept). That is one load and two ALU operations per 2L weights, against two loads, two widenings and two shifts
     * through S_HALF (dot, dequantizeRow), and it is what keeps a product of 1–4 tokens near the cost of reading
     * the weight. The tokens are put in the same order once per product (pairOrdered), so neither side needs a lane
     * shuffle (docs/benchmarks.md, "Few-token products in pair order").
     */
    private static final ThreadLocal<float[]> PAIRED = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> PAIR_DOTS = ThreadLocal.withInitial(() -> new float[16]);
    private static final int ODD = 0xFFFF0000;

    /**
     * The n tokens at x[xOff ..] in pair order, in the calling thread's scratch (valid until its next call): per block of 2L
     * columns the L even columns, then the L odd ones; the columns past the last whole block as they are.
     */
    static float[] pairOrdered(float[] x, int xOff, int n, int cols) {
        float[] p = PAIRED.get();
        if (p.length < n * cols) {
            p = new float[n * cols];
            PAIRED.set(p);
        }
        int step = F.length();
        for (int t = 0; t < n; t++) {
            int o = t * cols, xo = xOff + o, i = 0;
            for (; i + 2 * step <= cols; i += 2 * step) {
                for (int j = 0; j < step; j++) {
                    p[o + i + j] = x[xo + i + 2 * j];
                    p[o + i + step + j] = x[xo + i + 2 * j + 1];
                }
            }
            for (; i < cols; i++) p[o + i] = x[xo + i];
        }
        return p;
    }

    /**
     * Rows [rowFrom, rowTo) of out[outOff + t * rows + r] = W[r] · x[t] for n tokens, xp in pair order (rowFrom a
     * multiple of 4): four rows times a pair of tokens, a last odd token (or the GEMV's one) on its own; further
     * pairs re-read the four rows from L1/L2. Four sequential streams keep more cache-line fills in flight than one,
     * and each token vector is loaded once for four rows. The four rows are a quarter of the range apart, not
     * adjacent: with short rows (1–2 KB, an MoE expert's or lm_head's) four adjacent rows interleave four streams
     * inside one 4 KiB page, which the hardware prefetcher does not follow (about half the read rate); a quarter
     * apart, each stream runs through pages of its own. A row's sum does not depend on the gap.
     */
    void pairedRows(float[] xp, int n, float[] out, int outOff, int rowFrom, int rowTo) {
        float[] res = PAIR_DOTS.get();
        int gap = (rowTo - rowFrom) / 4, tail = rowFrom + 4 * gap;
        for (int r0 = rowFrom; r0 < rowFrom + gap; r0++) {
            int t = 0;
            // with 32 vector registers (AVX-512) four tokens at a time: each weight vector widened once for four
            // tokens instead of twice, and the four rows read once from L1 instead of twice
            for (; !TokenLanesGemm.SIXTEEN_REGISTERS && t + 4 <= n; t += 4) {
                dotPairs4x4(r0, gap, xp, t * cols, (t + 1) * cols, (t + 2) * cols, (t + 3) * cols, res);
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 4; j++) out[outOff + (t + j) * rows + r0 + i * gap] = res[4 * i + j];
                }
            }
            for (; t + 2 <= n; t += 2) {
                dotPairs4x2(r0, gap, xp, t * cols, (t + 1) * cols, res);
                for (int i = 0; i < 4; i++) {
                    out[outOff + t * rows + r0 + i * gap] = res[2 * i];
                    out[outOff + (t + 1) * rows + r0 + i * gap] = res[2 * i + 1];
                }
            }
            if (t < n) {
                dotPairs4x1(r0, gap, xp, t * cols, res);
                for (int i = 0; i < 4; i++) out[outOff + t * rows + r0 + i * gap] = res[i];
            }
        }
        for (int r = tail; r < rowTo; r++) {
            for (int t = 0; t < n; t++) out[outOff + t * rows + r] = dotPairs(r, xp, t * cols);
        }
    }

    /** res[4i + j] = W[row + i·gap] · token j (offsets x0 .. x3 in pair order), i, j < 4: 16 accumulators. */
    private void dotPairs4x4(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        long g = (long) gap * cols * 2, r0 = (long) row * cols * 2, r1 = r0 + g, r2 = r1 + g, r3 = r2 + g;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            long o = (long) i * 2;
            FloatVector e0 = FloatVector.fromArray(F, x, x0 + i), d0 = FloatVector.fromArray(F, x, x0 + i + step);
            FloatVector e1 = FloatVector.fromArray(F, x, x1 + i), d1 = FloatVector.fromArray(F, x, x1 + i + step);
            FloatVector e2 = FloatVector.fromArray(F, x, x2 + i), d2 = FloatVector.fromArray(F, x, x2 + i + step);
            FloatVector e3 = FloatVector.fromArray(F, x, x3 + i), d3 = FloatVector.fromArray(F, x, x3 + i + step);
            IntVector w = IntVector.fromMemorySegment(I, data, r0 + o, LITTLE_ENDIAN);
            FloatVector we = w.lanewise(LSHL, 16).reinterpretAsFloats(), wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c00 = wd.fma(d0, we.fma(e0, c00));
            c01 = wd.fma(d1, we.fma(e1, c01));
            c02 = wd.fma(d2, we.fma(e2, c02));
            c03 = wd.fma(d3, we.fma(e3, c03));
            w = IntVector.fromMemorySegment(I, data, r1 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c10 = wd.fma(d0, we.fma(e0, c10));
            c11 = wd.fma(d1, we.fma(e1, c11));
            c12 = wd.fma(d2, we.fma(e2, c12));
            c13 = wd.fma(d3, we.fma(e3, c13));
            w = IntVector.fromMemorySegment(I, data, r2 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c20 = wd.fma(d0, we.fma(e0, c20));
            c21 = wd.fma(d1, we.fma(e1, c21));
            c22 = wd.fma(d2, we.fma(e2, c22));
            c23 = wd.fma(d3, we.fma(e3, c23));
            w = IntVector.fromMemorySegment(I, data, r3 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c30 = wd.fma(d0, we.fma(e0, c30));
            c31 = wd.fma(d1, we.fma(e1, c31));
            c32 = wd.fma(d2, we.fma(e2, c32));
            c33 = wd.fma(d3, we.fma(e3, c33));
        }
        res[0] = c00.reduceLanes(ADD); res[1] = c01.reduceLanes(ADD); res[2] = c02.reduceLanes(ADD); res[3] = c03.reduceLanes(ADD);
        res[4] = c10.reduceLanes(ADD); res[5] = c11.reduceLanes(ADD); res[6] = c12.reduceLanes(ADD); res[7] = c13.reduceLanes(ADD);
        res[8] = c20.reduceLanes(ADD); res[9] = c21.reduceLanes(ADD); res[10] = c22.reduceLanes(ADD); res[11] = c23.reduceLanes(ADD);
        res[12] = c30.reduceLanes(ADD); res[13] = c31.reduceLanes(ADD); res[14] = c32.reduceLanes(ADD); res[15] = c33.reduceLanes(ADD);
        for (; i < cols; i++) {
            for (int r = 0; r < 4; r++) {
                float v = toFloat(data.get(LE, r0 + r * g + (long) i * 2));
                res[4 * r] += v * x[x0 + i];
                res[4 * r + 1] += v * x[x1 + i];
                res[4 * r + 2] += v * x[x2 + i];
                res[4 * r + 3] += v * x[x3 + i];
            }
        }
    }

    /** res[2i + j] = W[row + i·gap] · token j (offsets x0, x1 in pair order), i < 4, j < 2: 8 accumulators. */
    private void dotPairs4x2(int row, int gap, float[] x, int x0, int x1, float[] res) {
        long g = (long) gap * cols * 2, r0 = (long) row * cols * 2, r1 = r0 + g, r2 = r1 + g, r3 = r2 + g;
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            long o = (long) i * 2;
            FloatVector e0 = FloatVector.fromArray(F, x, x0 + i), d0 = FloatVector.fromArray(F, x, x0 + i + step);
            FloatVector e1 = FloatVector.fromArray(F, x, x1 + i), d1 = FloatVector.fromArray(F, x, x1 + i + step);
            IntVector w = IntVector.fromMemorySegment(I, data, r0 + o, LITTLE_ENDIAN);
            FloatVector we = w.lanewise(LSHL, 16).reinterpretAsFloats(), wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c00 = wd.fma(d0, we.fma(e0, c00));
            c01 = wd.fma(d1, we.fma(e1, c01));
            w = IntVector.fromMemorySegment(I, data, r1 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c10 = wd.fma(d0, we.fma(e0, c10));
            c11 = wd.fma(d1, we.fma(e1, c11));
            w = IntVector.fromMemorySegment(I, data, r2 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c20 = wd.fma(d0, we.fma(e0, c20));
            c21 = wd.fma(d1, we.fma(e1, c21));
            w = IntVector.fromMemorySegment(I, data, r3 + o, LITTLE_ENDIAN);
            we = w.lanewise(LSHL, 16).reinterpretAsFloats();
            wd = w.lanewise(AND, ODD).reinterpretAsFloats();
            c30 = wd.fma(d0, we.fma(e0, c30));
            c31 = wd.fma(d1, we.fma(e1, c31));
        }
        res[0] = c00.reduceLanes(ADD); res[1] = c01.reduceLanes(ADD); res[2] = c10.reduceLanes(ADD);
        res[3] = c11.reduceLanes(ADD); res[4] = c20.reduceLanes(ADD); res[5] = c21.reduceLanes(ADD);
        res[6] = c30.reduceLanes(ADD); res[7] = c31.reduceLanes(ADD);
        for (; i < cols; i++) {
            for (int r = 0; r < 4; r++) {
                float v = toFloat(data.get(LE, r0 + r * g + (long) i * 2));
                res[2 * r] += v * x[x0 + i];
                res[2 * r + 1] += v * x[x1 + i];
            }
        }
    }

    /** res[i] = W[row + i·gap] · the token at x0 (pair order), i < 4: even and odd columns in 8 accumulators. */
    private void dotPairs4x1(int row, int gap, float[] x, int x0, float[] res) {
        long g = (long) gap * cols * 2, r0 = (long) row * cols * 2, r1 = r0 + g, r2 = r1 + g, r3 = r2 + g;
        int step = F.length();
        FloatVector e0 = FloatVector.zero(F), d0 = e0, e1 = e0, d1 = e0, e2 = e0, d2 = e0, e3 = e0, d3 = e0;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            long o = (long) i * 2;
            FloatVector xe = FloatVector.fromArray(F, x, x0 + i), xd = FloatVector.fromArray(F, x, x0 + i + step);
            IntVector w = IntVector.fromMemorySegment(I, data, r0 + o, LITTLE_ENDIAN);
            e0 = w.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe, e0);
            d0 = w.lanewise(AND, ODD).reinterpretAsFloats().fma(xd, d0);
            w = IntVector.fromMemorySegment(I, data, r1 + o, LITTLE_ENDIAN);
            e1 = w.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe, e1);
            d1 = w.lanewise(AND, ODD).reinterpretAsFloats().fma(xd, d1);
            w = IntVector.fromMemorySegment(I, data, r2 + o, LITTLE_ENDIAN);
            e2 = w.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe, e2);
            d2 = w.lanewise(AND, ODD).reinterpretAsFloats().fma(xd, d2);
            w = IntVector.fromMemorySegment(I, data, r3 + o, LITTLE_ENDIAN);
            e3 = w.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe, e3);
            d3 = w.lanewise(AND, ODD).reinterpretAsFloats().fma(xd, d3);
        }
        res[0] = e0.add(d0).reduceLanes(ADD);
        res[1] = e1.add(d1).reduceLanes(ADD);
        res[2] = e2.add(d2).reduceLanes(ADD);
        res[3] = e3.add(d3).reduceLanes(ADD);
        for (; i < cols; i++) {
            for (int r = 0; r < 4; r++) res[r] += toFloat(data.get(LE, r0 + r * g + (long) i * 2)) * x[x0 + i];
        }
    }

    /** W[row] · the token at xOff (pair order): the rows past the last four-row tile. */
    private float dotPairs(int row, float[] x, int xOff) {
        long base = (long) row * cols * 2;
        int step = F.length();
        FloatVector e = FloatVector.zero(F), d = e;
        int i = 0;
        for (; i + 2 * step <= cols; i += 2 * step) {
            IntVector w = IntVector.fromMemorySegment(I, data, base + (long) i * 2, LITTLE_ENDIAN);
            e = w.lanewise(LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i), e);
            d = w.lanewise(AND, ODD).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i + step), d);
        }
        float s = e.add(d).reduceLanes(ADD);
        for (; i < cols; i++) s += toFloat(data.get(LE, base + (long) i * 2)) * x[xOff + i];
        return s;
    }

    @Override
    public void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff) {
        long base = ((long) row * cols + col0) * 2;
        int step = F.length();
        int j = 0;
        for (; j + step <= len; j += step) {
            ((IntVector) ShortVector.fromMemorySegment(S_HALF, data, base + (long) j * 2, LITTLE_ENDIAN)
                    .convertShape(S2I, I, 0)).lanewise(LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + j);
        }
        for (; j < len; j++) dst[dstOff + j] = toFloat(data.get(LE, base + (long) j * 2));
    }
}
