package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Matrix-matrix product out[n × rows] = x[n × cols] · Wᵀ for any weight type. A panel of {@link #MR} weight
 * rows × {@link #KC} columns is dequantised once into an F32 tile (per-thread, reused) and multiplied
 * with every token: a 4×4 register tile does 16 FMAs per 8 loads; 4×2 and 4×1 tiles take the leftover
 * tokens, so 2 or 3 tokens still stream the weight once.
 *
 * <p>Loop order decides what comes from DRAM. While all of x fits in L2, row panels go outermost: each
 * weight row is then read front to back (four sequential streams the prefetcher follows), the only
 * DRAM traffic. A larger x would then be re-read from L3 for every panel, so column blocks go outermost
 * instead: one block of x stays in L2 while the weight is read in {@code KC}-column runs.
 */
final class Gemm {
    /** Columns per block: a 4-row F32 tile (16 KB) and 4 tokens of x (16 KB) fit the 48 KB L1 together. */
    static final int KC = 1024;
    static final int MR = 4;
    /** Activations up to this size stay in L2 (2 MB per core here) across row panels. */
    static final long X_IN_L2_BYTES = 1 << 20;
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * KC]);

    private Gemm() {}

    /** Picks the kernel for n tokens and runs it over the weight's rows, spread over the kernel pool. */
    static void multiply(WeightMatrix w, float[] x, int n, float[] out) {
        if (n >= TokenLanesGemm.minTokens(w)) {
            TokenLanesGemm.multiply(w, x, n, out);
        } else if (w instanceof Bf16Matrix) {
            // its kernels read the tokens in pair order (Bf16Matrix.pairedRows): put them so once for every row range
            RowSplit.run(RowSplit.Kind.BF16_PAIRS, w, Bf16Matrix.pairOrdered(x, 0, n, w.cols()), 0, n, n, out, 0);
        } else if (w.hasDot4()) {
            RowSplit.run(RowSplit.Kind.FEW_TOKENS, w, x, 0, n, n, out, 0);
        } else {
            RowSplit.run(RowSplit.Kind.TILE, w, x, 0, n, n, out, 0);
        }
    }

    /** Rows [r0, r1) of out (r0 a multiple of {@link #MR}) through the dequantised tile. */
    static void multiplyRows(WeightMatrix w, float[] x, int n, float[] out, int r0, int r1) {
        int rows = w.rows(), cols = w.cols();
        for (int t = 0; t < n; t++) Arrays.fill(out, t * rows + r0, t * rows + r1, 0f);
        if ((long) n * cols * Float.BYTES <= X_IN_L2_BYTES) {
            // whole rows: MR consecutive rows are one contiguous run of the weight, read front to back
            float[] tile = tile(MR * cols);
            for (int p = r0; p < r1; p += MR) {
                int rc = Math.min(MR, r1 - p);
                for (int i = 0; i < rc; i++) w.dequantizeRow(p + i, 0, cols, tile, i * cols);
                for (int k0 = 0; k0 < cols; k0 += KC) panel(tile, cols, rc, x, n, cols, k0, Math.min(KC, cols - k0), p, out, rows);
            }
        } else {
            float[] tile = tile(MR * KC);
            for (int k0 = 0; k0 < cols; k0 += KC) {
                int kc = Math.min(KC, cols - k0);
                for (int p = r0; p < r1; p += MR) {
                    int rc = Math.min(MR, r1 - p);
                    for (int i = 0; i < rc; i++) w.dequantizeRow(p + i, k0, kc, tile, i * KC);
                    panel(tile, KC, rc, x, n, cols, k0, kc, p, out, rows);
                }
            }
        }
    }

    /** The calling thread's tile, grown to at least {@code size} floats; no allocation in steady state. */
    private static float[] tile(int size) {
        float[] t = TILE.get();
        if (t.length < size) {
            t = new float[size];
            TILE.set(t);
        }
        return t;
    }

    /**
     * out[t][r0 .. r0+rc) += W[r0 .. r0+rc)[k0 .. k0+kc) · x[t][k0 .. k0+kc) for every token t, the weight
     * rows dequantised in {@code tile} at stride {@code ld} starting with column k0 at {@code tile[k0 % ld]}.
     */
    private static void panel(float[] tile, int ld, int rc, float[] x, int n, int cols, int k0, int kc, int r0,
                              float[] out, int rows) {
        int wo = ld == cols ? k0 : 0;
        if (rc < MR) {
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < rc; i++) out[t * rows + r0 + i] += dot(tile, i * ld + wo, x, t * cols + k0, kc);
            }
            return;
        }
        int t0 = 0;
        for (; t0 + 4 <= n; t0 += 4) kernel4x4(tile, wo, ld, x, cols, k0, kc, t0, out, rows, r0);
        if (n - t0 >= 2) {
            kernel4x2(tile, wo, ld, x, cols, k0, kc, t0, out, rows, r0);
            t0 += 2;
        }
        if (t0 < n) kernel4x1(tile, wo, ld, x, t0 * cols + k0, kc, out, t0 * rows + r0);
    }

    private static float dot(float[] a, int ao, float[] b, int bo, int len) {
        int step = F.length();
        FloatVector acc = FloatVector.zero(F);
        int j = 0;
        for (; j + step <= len; j += step) {
            acc = FloatVector.fromArray(F, a, ao + j).fma(FloatVector.fromArray(F, b, bo + j), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; j < len; j++) s += a[ao + j] * b[bo + j];
        return s;
    }

    private static float sum(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }

    /** The scalar remainder of a block whose length is not a multiple of the vector length. */
    private static void tail(float[] w, int wo, int ld, float[] x, int cols, int k0, int j, int kc, int t0, int nt,
                             float[] out, int rows, int r0) {
        for (; j < kc; j++) {
            for (int i = 0; i < MR; i++) {
                for (int t = 0; t < nt; t++) out[(t0 + t) * rows + r0 + i] += w[wo + i * ld + j] * x[(t0 + t) * cols + k0 + j];
            }
        }
    }

    private static void kernel4x4(float[] w, int wo, int ld, float[] x, int cols, int k0, int kc, int t0,
                                  float[] out, int rows, int r0) {
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int w0o = wo, w1o = w0o + ld, w2o = w1o + ld, w3o = w2o + ld;
        int x0 = t0 * cols + k0, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int j = 0;
        for (; j + step <= kc; j += step) {
            FloatVector w0 = FloatVector.fromArray(F, w, w0o + j);
            FloatVector w1 = FloatVector.fromArray(F, w, w1o + j);
            FloatVector w2 = FloatVector.fromArray(F, w, w2o + j);
            FloatVector w3 = FloatVector.fromArray(F, w, w3o + j);
            FloatVector v = FloatVector.fromArray(F, x, x0 + j);
            c00 = w0.fma(v, c00); c10 = w1.fma(v, c10); c20 = w2.fma(v, c20); c30 = w3.fma(v, c30);
            v = FloatVector.fromArray(F, x, x1 + j);
            c01 = w0.fma(v, c01); c11 = w1.fma(v, c11); c21 = w2.fma(v, c21); c31 = w3.fma(v, c31);
            v = FloatVector.fromArray(F, x, x2 + j);
            c02 = w0.fma(v, c02); c12 = w1.fma(v, c12); c22 = w2.fma(v, c22); c32 = w3.fma(v, c32);
            v = FloatVector.fromArray(F, x, x3 + j);
            c03 = w0.fma(v, c03); c13 = w1.fma(v, c13); c23 = w2.fma(v, c23); c33 = w3.fma(v, c33);
        }
        int o0 = t0 * rows + r0, o1 = o0 + rows, o2 = o1 + rows, o3 = o2 + rows;
        out[o0] += sum(c00); out[o0 + 1] += sum(c10); out[o0 + 2] += sum(c20); out[o0 + 3] += sum(c30);
        out[o1] += sum(c01); out[o1 + 1] += sum(c11); out[o1 + 2] += sum(c21); out[o1 + 3] += sum(c31);
        out[o2] += sum(c02); out[o2 + 1] += sum(c12); out[o2 + 2] += sum(c22); out[o2 + 3] += sum(c32);
        out[o3] += sum(c03); out[o3 + 1] += sum(c13); out[o3 + 2] += sum(c23); out[o3 + 3] += sum(c33);
        tail(w, wo, ld, x, cols, k0, j, kc, t0, 4, out, rows, r0);
    }

    private static void kernel4x2(float[] w, int wo, int ld, float[] x, int cols, int k0, int kc, int t0,
                                  float[] out, int rows, int r0) {
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int w0o = wo, w1o = w0o + ld, w2o = w1o + ld, w3o = w2o + ld;
        int x0 = t0 * cols + k0, x1 = x0 + cols;
        int j = 0;
        for (; j + step <= kc; j += step) {
            FloatVector w0 = FloatVector.fromArray(F, w, w0o + j);
            FloatVector w1 = FloatVector.fromArray(F, w, w1o + j);
            FloatVector w2 = FloatVector.fromArray(F, w, w2o + j);
            FloatVector w3 = FloatVector.fromArray(F, w, w3o + j);
            FloatVector v = FloatVector.fromArray(F, x, x0 + j);
            c00 = w0.fma(v, c00); c10 = w1.fma(v, c10); c20 = w2.fma(v, c20); c30 = w3.fma(v, c30);
            v = FloatVector.fromArray(F, x, x1 + j);
            c01 = w0.fma(v, c01); c11 = w1.fma(v, c11); c21 = w2.fma(v, c21); c31 = w3.fma(v, c31);
        }
        int o0 = t0 * rows + r0, o1 = o0 + rows;
        out[o0] += sum(c00); out[o0 + 1] += sum(c10); out[o0 + 2] += sum(c20); out[o0 + 3] += sum(c30);
        out[o1] += sum(c01); out[o1 + 1] += sum(c11); out[o1 + 2] += sum(c21); out[o1 + 3] += sum(c31);
        tail(w, wo, ld, x, cols, k0, j, kc, t0, 2, out, rows, r0);
    }

    /** Two accumulators per row so eight FMA chains hide the FMA latency. */
    private static void kernel4x1(float[] w, int wo, int ld, float[] x, int xo, int kc, float[] out, int o) {
        int step = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int w0o = wo, w1o = w0o + ld, w2o = w1o + ld, w3o = w2o + ld;
        int j = 0;
        for (; j + 2 * step <= kc; j += 2 * step) {
            FloatVector v = FloatVector.fromArray(F, x, xo + j);
            a0 = FloatVector.fromArray(F, w, w0o + j).fma(v, a0);
            a1 = FloatVector.fromArray(F, w, w1o + j).fma(v, a1);
            a2 = FloatVector.fromArray(F, w, w2o + j).fma(v, a2);
            a3 = FloatVector.fromArray(F, w, w3o + j).fma(v, a3);
            v = FloatVector.fromArray(F, x, xo + j + step);
            b0 = FloatVector.fromArray(F, w, w0o + j + step).fma(v, b0);
            b1 = FloatVector.fromArray(F, w, w1o + j + step).fma(v, b1);
            b2 = FloatVector.fromArray(F, w, w2o + j + step).fma(v, b2);
            b3 = FloatVector.fromArray(F, w, w3o + j + step).fma(v, b3);
        }
        out[o] += sum(a0.add(b0));
        out[o + 1] += sum(a1.add(b1));
        out[o + 2] += sum(a2.add(b2));
        out[o + 3] += sum(a3.add(b3));
        for (; j < kc; j++) {
            for (int i = 0; i < MR; i++) out[o + i] += w[wo + i * ld + j] * x[xo + j];
        }
    }
}
