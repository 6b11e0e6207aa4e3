package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Vector-vector operations on heap activations (attention scores, weighted sums, residual adds). */
public final class Blas1 {
    private Blas1() {}

    public static float dot(float[] a, int ao, float[] b, int bo, int len) {
        int step = F.length();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * step <= len; i += 2 * step) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(F, a, ao + i + step).fma(FloatVector.fromArray(F, b, bo + i + step), acc1);
        }
        for (; i + step <= len; i += step) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** y[yo..] += alpha · x[xo..]. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int len) {
        int step = F.length();
        int i = 0;
        for (; i + step <= len; i += step) {
            FloatVector.fromArray(F, x, xo + i).fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < len; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** y[0..len) += x[0..len). */
    public static void add(float[] x, float[] y, int len) {
        int step = F.length();
        int i = 0;
        for (; i + step <= len; i += step) {
            FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, y, i)).intoArray(y, i);
        }
        for (; i < len; i++) y[i] += x[i];
    }
}
