package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Tiled matrix-matrix product out[n × rows] = x[n × cols] · Wᵀ for any weight type. Columns are cut in
 * blocks of {@link #KC} so a block of x stays in L2; 4 weight rows of a block are dequantised once into
 * an F32 tile and reused for all n tokens; a 4×4 register tile (16 accumulators) does 16 FMAs per 8 loads.
 */
final class Gemm {
    static final int KC = 1024;
    private static final int MR = 4, NR = 4;

    private Gemm() {}

    static void multiply(WeightMatrix w, float[] x, int n, float[] out) {
        int rows = w.rows(), cols = w.cols();
        Arrays.fill(out, 0, n * rows, 0f);
        float[] tile = new float[MR * KC];
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kc = Math.min(KC, cols - k0);
            for (int r0 = 0; r0 < rows; r0 += MR) {
                int rc = Math.min(MR, rows - r0);
                for (int i = 0; i < rc; i++) w.dequantizeRow(r0 + i, k0, kc, tile, i * KC);
                int t0 = 0;
                if (rc == MR) {
                    for (; t0 + NR <= n; t0 += NR) kernel4x4(tile, x, cols, k0, kc, t0, out, rows, r0);
                }
                for (; t0 < n; t0++) {
                    for (int i = 0; i < rc; i++) out[t0 * rows + r0 + i] += dot(tile, i * KC, x, t0 * cols + k0, kc);
                }
            }
        }
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

    private static void kernel4x4(float[] w, float[] x, int cols, int k0, int kc, int t0, float[] out, int rows, int r0) {
        int step = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int x0 = t0 * cols + k0, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int j = 0;
        for (; j + step <= kc; j += step) {
            FloatVector w0 = FloatVector.fromArray(F, w, j);
            FloatVector w1 = FloatVector.fromArray(F, w, KC + j);
            FloatVector w2 = FloatVector.fromArray(F, w, 2 * KC + j);
            FloatVector w3 = FloatVector.fromArray(F, w, 3 * KC + j);
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
        out[o0] += c00.reduceLanes(VectorOperators.ADD); out[o0 + 1] += c10.reduceLanes(VectorOperators.ADD);
        out[o0 + 2] += c20.reduceLanes(VectorOperators.ADD); out[o0 + 3] += c30.reduceLanes(VectorOperators.ADD);
        out[o1] += c01.reduceLanes(VectorOperators.ADD); out[o1 + 1] += c11.reduceLanes(VectorOperators.ADD);
        out[o1 + 2] += c21.reduceLanes(VectorOperators.ADD); out[o1 + 3] += c31.reduceLanes(VectorOperators.ADD);
        out[o2] += c02.reduceLanes(VectorOperators.ADD); out[o2 + 1] += c12.reduceLanes(VectorOperators.ADD);
        out[o2 + 2] += c22.reduceLanes(VectorOperators.ADD); out[o2 + 3] += c32.reduceLanes(VectorOperators.ADD);
        out[o3] += c03.reduceLanes(VectorOperators.ADD); out[o3 + 1] += c13.reduceLanes(VectorOperators.ADD);
        out[o3 + 2] += c23.reduceLanes(VectorOperators.ADD); out[o3 + 3] += c33.reduceLanes(VectorOperators.ADD);
        for (; j < kc; j++) {
            for (int i = 0; i < MR; i++) {
                for (int t = 0; t < NR; t++) out[(t0 + t) * rows + r0 + i] += w[i * KC + j] * x[(t0 + t) * cols + k0 + j];
            }
        }
    }
}
