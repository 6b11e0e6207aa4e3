package dev.nuri.kernels.ops;

/**
 * The GEMM for a few tokens (2 .. {@link TokenLanesGemm#MIN_TOKENS} - 1), as in an MoE expert at decode time, for the
 * types with a fused 4-token dot but BF16 (its own, in pair order: Bf16Matrix.pairedRows):
 * memory-bound, so the weight is read straight from its mapping (no tile: no store and reload of
 * dequantised values), four rows at a time (a quarter of the row range apart), each weight vector widened once and
 * multiplied with four tokens, each token vector loaded once for the four rows. Further groups of four
 * tokens re-read the four rows from L2.
 */
final class FewTokensGemm {
    private static final ThreadLocal<float[]> DOTS = ThreadLocal.withInitial(() -> new float[16]);

    private FewTokensGemm() {}

    /** Rows [rowFrom, rowTo) of out; rowFrom is a multiple of 4. */
    static void multiplyRows(WeightMatrix w, float[] x, int n, float[] out, int rowFrom, int rowTo) {
        int rows = w.rows(), cols = w.cols();
        float[] res = DOTS.get();
        int last = n - 1;
        // the four rows of a tile are a quarter of the range apart (rows r0 + i·gap), each row stream in pages of
        // its own (see Bf16Matrix.pairedRows); the rows past the last whole tile go through dot4, as before
        int gap = (rowTo - rowFrom) / 4, tail = rowFrom + 4 * gap;
        for (int r0 = rowFrom; r0 < rowFrom + gap; r0++) {
            for (int t0 = 0; t0 < n; t0 += 4) {
                // a short last group repeats its last token; those results are dropped
                int x0 = t0 * cols, x1 = Math.min(t0 + 1, last) * cols, x2 = Math.min(t0 + 2, last) * cols;
                int x3 = Math.min(t0 + 3, last) * cols;
                int nt = Math.min(4, n - t0);
                // the tile for the tokens left: no FMAs on repeated tokens, and a register tile that
                // fits AVX2 (see WeightMatrix.dot4x3); each (row, token) sums as in dot4x4
                switch (nt) {
                    case 4 -> w.dot4x4(r0, gap, x, x0, x1, x2, x3, res);
                    case 3 -> w.dot4x3(r0, gap, x, x0, x1, x2, res);
                    default -> w.dot4x2(r0, gap, x, x0, x1, res);
                }
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < nt; j++) out[(t0 + j) * rows + r0 + i * gap] = res[4 * i + j];
                }
            }
        }
        for (int t0 = 0; t0 < n && tail < rowTo; t0 += 4) {
            int x0 = t0 * cols, x1 = Math.min(t0 + 1, last) * cols, x2 = Math.min(t0 + 2, last) * cols;
            int x3 = Math.min(t0 + 3, last) * cols;
            int nt = Math.min(4, n - t0);
            for (int r = tail; r < rowTo; r++) {
                w.dot4(r, x, x0, x1, x2, x3, res);
                for (int j = 0; j < nt; j++) out[(t0 + j) * rows + r] = res[j];
            }
        }
    }
}
