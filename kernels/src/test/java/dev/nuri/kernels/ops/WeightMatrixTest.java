package dev.nuri.kernels.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Fp8E4m3;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every weight type's GEMV and GEMM against a double-precision product of the same (dequantised) values. */
class WeightMatrixTest {
    static final SplittableRandom RANDOM = new SplittableRandom(7);

    static WeightMatrix matrix(DType type, int rows, int cols, float[] exact) {
        Arena arena = Arena.ofAuto();
        MemorySegment s = arena.allocate((long) rows * cols * Math.max(1, type.bytes()), 64);
        Tensor scale = null;
        for (int i = 0; i < rows * cols; i++) {
            float v = (float) RANDOM.nextGaussian();
            switch (type) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case BF16 -> {
                    short b = (short) (Float.floatToRawIntBits(v) >>> 16);
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, b);
                    v = Float.intBitsToFloat(b << 16);
                }
                case F16 -> {
                    short h = Float.floatToFloat16(v);
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, h);
                    v = Float.float16ToFloat(h);
                }
                case F8_E4M3 -> {
                    byte q = Fp8E4m3.fromFloat(v * 100);
                    s.set(ValueLayout.JAVA_BYTE, i, q);
                    v = Fp8E4m3.toFloat(q);
                }
                default -> throw new IllegalArgumentException();
            }
            exact[i] = v;
        }
        if (type == DType.F8_E4M3) {
            int br = (rows + 127) / 128, bc = (cols + 127) / 128;
            MemorySegment sc = arena.allocate(br * bc * 4L, 64);
            for (int i = 0; i < br * bc; i++) sc.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 0.01f * (i + 1));
            scale = new Tensor("w_scale_inv", DType.F32, new long[] {br, bc}, sc);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) exact[r * cols + c] *= 0.01f * ((r / 128) * bc + c / 128 + 1);
            }
        }
        return WeightMatrix.of(new Tensor("w", type, new long[] {rows, cols}, s), scale);
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"F32, 67, 300", "BF16, 130, 256", "F16, 33, 96", "F8_E4M3, 260, 384", "F32, 9, 2100", "BF16, 4, 1030",
            "BF16, 19, 200"})
    void gemvAndGemmMatchAReferenceProduct(DType type, int rows, int cols) {
        float[] w = new float[rows * cols];
        WeightMatrix m = matrix(type, rows, cols, w);
        // 2–5 and 7 tokens: the few-token kernels (BF16: pairs of tokens and a last odd one, 7 = 3 pairs + 1; the
        // others: groups of four and a short last group); 19: BF16's 4 × 4 tiles with 32 vector registers (its few-token
        // kernels run to 31 tokens there), the token-lane kernels elsewhere; 37: the token-lane kernels with a padded
        // tile; BF16 19 × 200:
        // three rows past the last four-row tile and 8 columns past the last pair-order block;
        // 3 threads with no minimum size: every product split over row ranges
        for (int threads : new int[] {1, 3}) {
            KernelPool.configure(threads, 0);
            for (int n : new int[] {2, 3, 4, 5, 7, 19, 37}) checkProduct(m, w, rows, cols, n);
        }
    }

    /** Q8_0 against the product of its own quantised weights, read one element at a time (the scalar path). */
    @ParameterizedTest(name = "Q8_0 {0}x{1}")
    @CsvSource({"130, 256", "7, 96", "64, 1024"})
    void q8GemvAndGemmMatchTheProductOfTheQuantisedWeights(int rows, int cols) {
        Q8Matrix q = matrix(DType.F32, rows, cols, new float[rows * cols]).toQ8_0();
        float[] w = new float[rows * cols], one = new float[1];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                q.dequantizeRow(r, c, 1, one, 0);
                w[r * cols + c] = one[0];
            }
        }
        for (int threads : new int[] {1, 3}) {
            KernelPool.configure(threads, 0);
            for (int n : new int[] {2, 7, 37}) checkProduct(q, w, rows, cols, n);
        }
    }

    /**
     * The few-token kernels pick their tile by the tokens left in a group (4 × 4, 4 × 3, 4 × 2; BF16: a pair, or a
     * last odd token alone): a token's result must not depend on that grouping, so a batch's product equals the
     * same token's product computed in a group of four: to the bit for Q8_0 (its lanes are summed in order), and
     * to float rounding for F32 and BF16. Their tiles end with reduceLanes, whose lane order differs between the interpreter and C2, so while
     * the JIT compiles one tile before another a token's sum can differ in its last bits (a 150-repetition loop
     * found ~7,000 such sums, e.g. -4.6969543 against -4.696954). Summing their lanes in order
     * instead made the 4 × 4 tile 1.5–1.9× slower (bbbb004, reverted; docs/benchmarks.md).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32", "BF16", "Q8_0"})
    void aTokenSumsTheSameWhateverItsGroupOfTokens(String type) {
        int rows = 12, cols = 264; // a column tail past the vector loop
        WeightMatrix m = type.equals("Q8_0") ? matrix(DType.F32, rows, 256, new float[rows * 256]).toQ8_0()
                : matrix(DType.valueOf(type), rows, cols, new float[rows * cols]);
        int k = m.cols();
        KernelPool.configure(1, 0);
        for (int n = 2; n <= 8; n++) {
            float[] x = new float[n * k];
            for (int i = 0; i < x.length; i++) x[i] = (float) RANDOM.nextGaussian();
            float[] out = new float[n * rows];
            m.matmul(x, n, out);
            for (int t = 0; t < n; t++) {
                float[] four = new float[4 * k], ref = new float[4 * rows];
                for (int j = 0; j < 4; j++) System.arraycopy(x, t * k, four, j * k, k);
                m.matmul(four, 4, ref);
                for (int r = 0; r < rows; r++) {
                    if (type.equals("Q8_0")) {
                        assertThat(out[t * rows + r]).as("n %d token %d row %d", n, t, r).isEqualTo(ref[r]);
                    } else { // rounding of a 264-term sum of unit Gaussians, far below a token or row mixed up
                        assertThat(out[t * rows + r]).as("n %d token %d row %d", n, t, r).isCloseTo(ref[r], within(1e-4f));
                    }
                }
            }
        }
    }

    /**
     * Q8_0's tiles are separate methods (4 × 2, 2 × 3, 2 × 4), compiled by the JIT at different times: a (row,
     * token) must still sum the same while one runs interpreted and another compiled, so the grouping check above
     * is repeated until the JIT has compiled the tiles in between (the lanes' final sum in reduceLanes order
     * differed between tiers: thousands of mismatches in this loop).
     */
    @Test
    void aQ8TokenSumsTheSameWhileTheJitCompilesItsTiles() {
        int rows = 12, cols = 256;
        WeightMatrix m = matrix(DType.F32, rows, cols, new float[rows * cols]).toQ8_0();
        KernelPool.configure(1, 0);
        int mismatches = 0;
        for (int rep = 0; rep < 20; rep++) {
            for (int n = 2; n <= 8; n++) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) RANDOM.nextGaussian();
                float[] out = new float[n * rows];
                m.matmul(x, n, out);
                for (int t = 0; t < n; t++) {
                    float[] four = new float[4 * cols], ref = new float[4 * rows];
                    for (int j = 0; j < 4; j++) System.arraycopy(x, t * cols, four, j * cols, cols);
                    m.matmul(four, 4, ref);
                    for (int r = 0; r < rows; r++) if (out[t * rows + r] != ref[r]) mismatches++;
                }
            }
        }
        assertThat(mismatches).as("(row, token) sums that differ from the same token's in a group of four").isZero();
    }

    @AfterEach
    void restorePool() {
        KernelPool.configure(KernelPool.defaultThreads());
    }

    private static void checkProduct(WeightMatrix m, float[] w, int rows, int cols, int n) {
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) RANDOM.nextGaussian();
        float[] gemm = new float[n * rows];
        m.matmul(x, n, gemm);
        float[] gemv = new float[rows];
        m.matvec(x, 0, gemv, 0);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double ref = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    ref += (double) w[r * cols + c] * x[t * cols + c];
                    mag += Math.abs((double) w[r * cols + c] * x[t * cols + c]);
                }
                assertThat((double) gemm[t * rows + r]).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-6));
                if (t == 0) assertThat((double) gemv[r]).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-6));
            }
        }
    }

    @ParameterizedTest(name = "Q8_0 from {0}")
    @CsvSource({"F32", "BF16"})
    void q8RequantisationStaysWithinHalfAStep(DType type) {
        int rows = 20, cols = 256;
        float[] w = new float[rows * cols];
        Q8Matrix q = matrix(type, rows, cols, w).toQ8_0();
        assertThat(q.dtype()).isEqualTo(DType.Q8_0);
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) RANDOM.nextGaussian();
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            q.dequantizeRow(r, 0, cols, row, 0);
            double ref = 0, bound = 0;
            for (int b = 0; b < cols / 32; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(w[r * cols + b * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int c = b * 32 + j;
                    assertThat(Math.abs(row[c] - w[r * cols + c])).isLessThanOrEqualTo(amax / 127 / 2 * 1.001f);
                    ref += (double) row[c] * x[c];
                    bound += Math.abs(row[c] * x[c]);
                }
            }
            assertThat((double) q.dot(r, x, 0)).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-5 * bound));
        }
    }
}
