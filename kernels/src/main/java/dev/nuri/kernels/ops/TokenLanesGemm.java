package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;
import static dev.nuri.kernels.ops.VectorShapes.L;

import jdk.incubator.vector.FloatVector;

/**
 * The GEMM for many tokens (≥ {@link #minTokens}): vector lanes run across tokens, not along a row.
 * x is transposed once into xT, per tile of 2 vectors' worth of tokens [col][token] (padded to whole
 * vectors, each tile contiguous so the kernel streams it); {@link #MR} weight rows are
 * dequantised into a row-major F32 tile; the 8×(2 vectors) register tile then does, per column,
 * 2 vector loads of xT, 8 scalar broadcasts of the weight and 16 FMAs into accumulators that stay in
 * registers for the whole row: no horizontal reductions, and the weight never needs transposing.
 * Measured ~95% of the FMA peak with both operands in L1, against ~60% for a 4×4 dot-product tile
 * (whose loads and reductions cap it).
 */
final class TokenLanesGemm {
    static final int MIN_TOKENS = 16;
    /**
     * BF16's crossover with 32 vector registers (AVX-512), where its few-token products run as 4 × 4 tiles
     * (Bf16Matrix.pairedRows) and beat this kernel's one-vector (16-token) column tile: 16 and 24 tokens of a
     * 1024 × 1024 weight in 535 and 770 µs against 800 and 1,050. Q8_0's and FP8's few-token tiles do not (690
     * against 870 µs at 16 tokens): they keep 16 (docs/benchmarks.md, "Few-token tiles on AVX-512").
     */
    static final int MIN_TOKENS_BF16 = F.vectorBitSize() < 512 ? MIN_TOKENS : 32;
    static final int MR = 8;
    /**
     * 256-bit vectors mean AVX2 and its 16 vector registers, where the 8 × 2 tile (16 accumulators, 2 token
     * vectors, a broadcast) spills to the stack on every column; there each half of the rows runs as a 4 × 2
     * tile (11 registers) over the same xT, which then comes from L1/L2 the second time. Every (row, token)
     * sums the same FMAs in the same order either way.
     */
    static final boolean SIXTEEN_REGISTERS = F.vectorBitSize() < 512;
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[3][0]);

    private TokenLanesGemm() {}

    /** The fewest tokens this kernel takes for w; fewer go through the type's few-token tiles. */
    static int minTokens(WeightMatrix w) {
        return w instanceof Bf16Matrix ? MIN_TOKENS_BF16 : MIN_TOKENS;
    }

    /** x is transposed once by the caller; the rows then spread over the kernel pool, each thread with its own tile. */
    static void multiply(WeightMatrix w, float[] x, int n, float[] out) {
        int cols = w.cols();
        int np = (n + L - 1) / L * L;
        float[] xT = grow(BUFFERS.get(), 0, cols * np);
        transpose(x, n, cols, xT, np);
        RowSplit.run(RowSplit.Kind.TOKEN_LANES, w, xT, 0, n, np, out, 0);
    }

    /** Rows [rowFrom, rowTo) of out (rowFrom a multiple of {@link #MR}) from the transposed tokens xT. */
    static void multiplyRows(WeightMatrix w, float[] xT, int n, int np, float[] out, int rowFrom, int rowTo) {
        int rows = w.rows(), cols = w.cols();
        float[][] buf = BUFFERS.get();
        float[] tile = grow(buf, 1, MR * cols), acc = grow(buf, 2, MR * 2 * L);
        for (int r0 = rowFrom; r0 < rowTo; r0 += MR) {
            int rc = Math.min(MR, rowTo - r0);
            // MR consecutive rows are one contiguous run of the weight: read front to back
            for (int i = 0; i < rc; i++) w.dequantizeRow(r0 + i, 0, cols, tile, i * cols);
            for (int i = rc; i < MR; i++) java.util.Arrays.fill(tile, i * cols, (i + 1) * cols, 0f);
            int t0 = 0;
            for (; t0 + 2 * L <= np; t0 += 2 * L) {
                if (SIXTEEN_REGISTERS) {
                    kernel4x2(tile, 0, cols, xT, t0 * cols, acc);
                    kernel4x2(tile, 4, cols, xT, t0 * cols, acc);
                } else {
                    kernel8x2(tile, cols, xT, t0 * cols, acc);
                }
                scatter(acc, 2, out, n, rows, r0, rc, t0);
            }
            if (t0 < np) {
                kernel8x1(tile, cols, xT, t0 * cols, acc);
                scatter(acc, 1, out, n, rows, r0, rc, t0);
            }
        }
    }

    private static float[] grow(float[][] buf, int i, int size) {
        if (buf[i].length < size) buf[i] = new float[size];
        return buf[i];
    }

    /** Tile of tokens [t0, t0 + tw): xT[t0 * cols + c * tw + j] = x[(t0 + j) * cols + c], zero past token n. */
    private static void transpose(float[] x, int n, int cols, float[] xT, int np) {
        for (int t0 = 0; t0 < np; t0 += 2 * L) {
            int tw = Math.min(2 * L, np - t0);
            for (int j = 0; j < tw; j++) {
                int t = t0 + j;
                if (t < n) {
                    for (int c = 0; c < cols; c++) xT[t0 * cols + c * tw + j] = x[t * cols + c];
                } else {
                    for (int c = 0; c < cols; c++) xT[t0 * cols + c * tw + j] = 0f;
                }
            }
        }
    }

    /** acc[(i * vectors + v) * L + lane] → out[(t0 + v * L + lane) * rows + r0 + i] for real tokens and rows. */
    private static void scatter(float[] acc, int vectors, float[] out, int n, int rows, int r0, int rc, int t0) {
        for (int v = 0; v < vectors; v++) {
            int tEnd = Math.min(L, n - t0 - v * L);
            for (int lane = 0; lane < tEnd; lane++) {
                int o = (t0 + v * L + lane) * rows + r0;
                for (int i = 0; i < rc; i++) out[o + i] = acc[(i * vectors + v) * L + lane];
            }
        }
    }

    private static void kernel8x2(float[] w, int ld, float[] xT, int xBase, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        int w1 = ld, w2 = 2 * ld, w3 = 3 * ld, w4 = 4 * ld, w5 = 5 * ld, w6 = 6 * ld, w7 = 7 * ld;
        for (int k = 0, xo = xBase; k < ld; k++, xo += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(F, xT, xo), x1 = FloatVector.fromArray(F, xT, xo + L);
            FloatVector b = FloatVector.broadcast(F, w[k]);
            c00 = x0.fma(b, c00); c01 = x1.fma(b, c01);
            b = FloatVector.broadcast(F, w[w1 + k]);
            c10 = x0.fma(b, c10); c11 = x1.fma(b, c11);
            b = FloatVector.broadcast(F, w[w2 + k]);
            c20 = x0.fma(b, c20); c21 = x1.fma(b, c21);
            b = FloatVector.broadcast(F, w[w3 + k]);
            c30 = x0.fma(b, c30); c31 = x1.fma(b, c31);
            b = FloatVector.broadcast(F, w[w4 + k]);
            c40 = x0.fma(b, c40); c41 = x1.fma(b, c41);
            b = FloatVector.broadcast(F, w[w5 + k]);
            c50 = x0.fma(b, c50); c51 = x1.fma(b, c51);
            b = FloatVector.broadcast(F, w[w6 + k]);
            c60 = x0.fma(b, c60); c61 = x1.fma(b, c61);
            b = FloatVector.broadcast(F, w[w7 + k]);
            c70 = x0.fma(b, c70); c71 = x1.fma(b, c71);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c10.intoArray(acc, 2 * L); c11.intoArray(acc, 3 * L);
        c20.intoArray(acc, 4 * L); c21.intoArray(acc, 5 * L); c30.intoArray(acc, 6 * L); c31.intoArray(acc, 7 * L);
        c40.intoArray(acc, 8 * L); c41.intoArray(acc, 9 * L); c50.intoArray(acc, 10 * L); c51.intoArray(acc, 11 * L);
        c60.intoArray(acc, 12 * L); c61.intoArray(acc, 13 * L); c70.intoArray(acc, 14 * L); c71.intoArray(acc, 15 * L);
    }

    /** Rows [r, r + 4) of the tile into acc as kernel8x2 lays them out. */
    private static void kernel4x2(float[] w, int r, int ld, float[] xT, int xBase, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int w0 = r * ld, w1 = w0 + ld, w2 = w1 + ld, w3 = w2 + ld;
        for (int k = 0, xo = xBase; k < ld; k++, xo += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(F, xT, xo), x1 = FloatVector.fromArray(F, xT, xo + L);
            FloatVector b = FloatVector.broadcast(F, w[w0 + k]);
            c00 = x0.fma(b, c00); c01 = x1.fma(b, c01);
            b = FloatVector.broadcast(F, w[w1 + k]);
            c10 = x0.fma(b, c10); c11 = x1.fma(b, c11);
            b = FloatVector.broadcast(F, w[w2 + k]);
            c20 = x0.fma(b, c20); c21 = x1.fma(b, c21);
            b = FloatVector.broadcast(F, w[w3 + k]);
            c30 = x0.fma(b, c30); c31 = x1.fma(b, c31);
        }
        int a = r * 2 * L;
        c00.intoArray(acc, a); c01.intoArray(acc, a + L); c10.intoArray(acc, a + 2 * L); c11.intoArray(acc, a + 3 * L);
        c20.intoArray(acc, a + 4 * L); c21.intoArray(acc, a + 5 * L); c30.intoArray(acc, a + 6 * L);
        c31.intoArray(acc, a + 7 * L);
    }

    private static void kernel8x1(float[] w, int ld, float[] xT, int xBase, float[] acc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        int w1 = ld, w2 = 2 * ld, w3 = 3 * ld, w4 = 4 * ld, w5 = 5 * ld, w6 = 6 * ld, w7 = 7 * ld;
        for (int k = 0, xo = xBase; k < ld; k++, xo += L) {
            FloatVector x0 = FloatVector.fromArray(F, xT, xo);
            c0 = x0.fma(FloatVector.broadcast(F, w[k]), c0);
            c1 = x0.fma(FloatVector.broadcast(F, w[w1 + k]), c1);
            c2 = x0.fma(FloatVector.broadcast(F, w[w2 + k]), c2);
            c3 = x0.fma(FloatVector.broadcast(F, w[w3 + k]), c3);
            c4 = x0.fma(FloatVector.broadcast(F, w[w4 + k]), c4);
            c5 = x0.fma(FloatVector.broadcast(F, w[w5 + k]), c5);
            c6 = x0.fma(FloatVector.broadcast(F, w[w6 + k]), c6);
            c7 = x0.fma(FloatVector.broadcast(F, w[w7 + k]), c7);
        }
        c0.intoArray(acc, 0); c1.intoArray(acc, L); c2.intoArray(acc, 2 * L); c3.intoArray(acc, 3 * L);
        c4.intoArray(acc, 4 * L); c5.intoArray(acc, 5 * L); c6.intoArray(acc, 6 * L); c7.intoArray(acc, 7 * L);
    }
}
