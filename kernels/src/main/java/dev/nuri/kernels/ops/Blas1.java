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

    /**
     * y[yo ..] += Σ_{j < n} alpha[ao + j] · x[xo + j·stride ..], len elements: the FMAs of n {@link #axpy} calls in the
     * same order (so the same sums, to the bit), with y held in registers across the n rows instead of stored and
     * reloaded for each (attention's weighted values: each store fed the next row's load).
     */
    public static void axpyRows(float[] alpha, int ao, int n, float[] x, int xo, int stride, float[] y, int yo, int len) {
        int step = F.length();
        int i = 0;
        for (; i + 4 * step <= len; i += 4 * step) {
            FloatVector y0 = FloatVector.fromArray(F, y, yo + i), y1 = FloatVector.fromArray(F, y, yo + i + step);
            FloatVector y2 = FloatVector.fromArray(F, y, yo + i + 2 * step), y3 = FloatVector.fromArray(F, y, yo + i + 3 * step);
            for (int j = 0, r = xo + i; j < n; j++, r += stride) {
                FloatVector a = FloatVector.broadcast(F, alpha[ao + j]);
                y0 = FloatVector.fromArray(F, x, r).fma(a, y0);
                y1 = FloatVector.fromArray(F, x, r + step).fma(a, y1);
                y2 = FloatVector.fromArray(F, x, r + 2 * step).fma(a, y2);
                y3 = FloatVector.fromArray(F, x, r + 3 * step).fma(a, y3);
            }
            y0.intoArray(y, yo + i);
            y1.intoArray(y, yo + i + step);
            y2.intoArray(y, yo + i + 2 * step);
            y3.intoArray(y, yo + i + 3 * step);
        }
        for (; i + step <= len; i += step) {
            FloatVector y0 = FloatVector.fromArray(F, y, yo + i);
            for (int j = 0, r = xo + i; j < n; j++, r += stride) y0 = FloatVector.fromArray(F, x, r).fma(FloatVector.broadcast(F, alpha[ao + j]), y0);
            y0.intoArray(y, yo + i);
        }
        for (; i < len; i++) {
            float v = y[yo + i];
            for (int j = 0, r = xo + i; j < n; j++, r += stride) v += alpha[ao + j] * x[r];
            y[yo + i] = v;
        }
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
