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

    /**
     * r[ro + i] = {@link #dot}(a, a_i, x, xo, len) for the four vectors at a0 .. a3: the same sums to the bit, with each
     * load of x serving all four (MLA's query heads against one latent row).
     */
    public static void dot4(float[] a, int a0, int a1, int a2, int a3, float[] x, int xo, int len, float[] r, int ro) {
        int step = F.length();
        FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0, p2 = p0, q2 = p0, p3 = p0, q3 = p0;
        int i = 0;
        for (; i + 2 * step <= len; i += 2 * step) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i), x1 = FloatVector.fromArray(F, x, xo + i + step);
            p0 = FloatVector.fromArray(F, a, a0 + i).fma(x0, p0);
            q0 = FloatVector.fromArray(F, a, a0 + i + step).fma(x1, q0);
            p1 = FloatVector.fromArray(F, a, a1 + i).fma(x0, p1);
            q1 = FloatVector.fromArray(F, a, a1 + i + step).fma(x1, q1);
            p2 = FloatVector.fromArray(F, a, a2 + i).fma(x0, p2);
            q2 = FloatVector.fromArray(F, a, a2 + i + step).fma(x1, q2);
            p3 = FloatVector.fromArray(F, a, a3 + i).fma(x0, p3);
            q3 = FloatVector.fromArray(F, a, a3 + i + step).fma(x1, q3);
        }
        for (; i + step <= len; i += step) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            p0 = FloatVector.fromArray(F, a, a0 + i).fma(x0, p0);
            p1 = FloatVector.fromArray(F, a, a1 + i).fma(x0, p1);
            p2 = FloatVector.fromArray(F, a, a2 + i).fma(x0, p2);
            p3 = FloatVector.fromArray(F, a, a3 + i).fma(x0, p3);
        }
        float s0 = p0.add(q0).reduceLanes(VectorOperators.ADD), s1 = p1.add(q1).reduceLanes(VectorOperators.ADD);
        float s2 = p2.add(q2).reduceLanes(VectorOperators.ADD), s3 = p3.add(q3).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            float v = x[xo + i];
            s0 += a[a0 + i] * v;
            s1 += a[a1 + i] * v;
            s2 += a[a2 + i] * v;
            s3 += a[a3 + i] * v;
        }
        r[ro] = s0;
        r[ro + 1] = s1;
        r[ro + 2] = s2;
        r[ro + 3] = s3;
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

    /**
     * {@link #axpyRows} for four outputs at once, output i weighted by alpha[a_i + j] and accumulated into y[y_i ..]:
     * the same FMAs in the same order as four axpyRows calls (the same sums, to the bit), with each load of x's rows
     * serving all four (MLA's query heads over one block of latent rows).
     */
    public static void axpyRows4(float[] alpha, int a0, int a1, int a2, int a3, int n, float[] x, int xo, int stride,
                                 float[] y, int y0, int y1, int y2, int y3, int len) {
        int step = F.length();
        int i = 0;
        for (; i + 2 * step <= len; i += 2 * step) {
            FloatVector u0 = FloatVector.fromArray(F, y, y0 + i), v0 = FloatVector.fromArray(F, y, y0 + i + step);
            FloatVector u1 = FloatVector.fromArray(F, y, y1 + i), v1 = FloatVector.fromArray(F, y, y1 + i + step);
            FloatVector u2 = FloatVector.fromArray(F, y, y2 + i), v2 = FloatVector.fromArray(F, y, y2 + i + step);
            FloatVector u3 = FloatVector.fromArray(F, y, y3 + i), v3 = FloatVector.fromArray(F, y, y3 + i + step);
            for (int j = 0, r = xo + i; j < n; j++, r += stride) {
                FloatVector xa = FloatVector.fromArray(F, x, r), xb = FloatVector.fromArray(F, x, r + step);
                FloatVector w = FloatVector.broadcast(F, alpha[a0 + j]);
                u0 = xa.fma(w, u0);
                v0 = xb.fma(w, v0);
                w = FloatVector.broadcast(F, alpha[a1 + j]);
                u1 = xa.fma(w, u1);
                v1 = xb.fma(w, v1);
                w = FloatVector.broadcast(F, alpha[a2 + j]);
                u2 = xa.fma(w, u2);
                v2 = xb.fma(w, v2);
                w = FloatVector.broadcast(F, alpha[a3 + j]);
                u3 = xa.fma(w, u3);
                v3 = xb.fma(w, v3);
            }
            u0.intoArray(y, y0 + i);
            v0.intoArray(y, y0 + i + step);
            u1.intoArray(y, y1 + i);
            v1.intoArray(y, y1 + i + step);
            u2.intoArray(y, y2 + i);
            v2.intoArray(y, y2 + i + step);
            u3.intoArray(y, y3 + i);
            v3.intoArray(y, y3 + i + step);
        }
        // what is left: each output on its own, as axpyRows takes it (whole vectors, then single elements)
        if (i < len) {
            axpyRows(alpha, a0, n, x, xo + i, stride, y, y0 + i, len - i);
            axpyRows(alpha, a1, n, x, xo + i, stride, y, y1 + i, len - i);
            axpyRows(alpha, a2, n, x, xo + i, stride, y, y2 + i, len - i);
            axpyRows(alpha, a3, n, x, xo + i, stride, y, y3 + i, len - i);
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
