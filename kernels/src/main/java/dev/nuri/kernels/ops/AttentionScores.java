package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import jdk.incubator.vector.FloatVector;

/**
 * Attention scores of one KV-cache block whose keys are stored dimension-major (dimension d of row r at
 * {@code ko + d·bs + r}): the block's positions sit in the vector lanes, so a score needs no horizontal sum, and
 * each load of the keys serves four query heads. Each head's sum runs in two chains (even and odd dimensions) added
 * at the end. Lanes past a block's end are computed from whatever the block holds there and stored into the
 * caller's slack, never read.
 */
public final class AttentionScores {
    private AttentionScores() {}

    /**
     * For the four query heads at q[qo + i·dim ..] (i &lt; 4) and the block's first {@code rows} positions:
     * s[so + i·stride + r] = scale · q_i · k_r. Positions r &lt; bs rounded up to the vector length are written.
     */
    public static void block4(float[] q, int qo, int dim, float[] k, int ko, int bs, int rows, float scale, float[] s,
                              int so, int stride) {
        int step = F.length(), c0 = 0;
        int q1 = qo + dim, q2 = q1 + dim, q3 = q2 + dim;
        for (; c0 < rows && c0 + step <= bs; c0 += step) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, b0 = a0, b1 = a0, c0v = a0, c1 = a0, d0 = a0, d1 = a0;
            int d = 0;
            for (int r = ko + c0; d + 2 <= dim; d += 2, r += 2 * bs) {
                FloatVector k0 = FloatVector.fromArray(F, k, r), k1 = FloatVector.fromArray(F, k, r + bs);
                a0 = k0.fma(FloatVector.broadcast(F, q[qo + d]), a0);
                a1 = k1.fma(FloatVector.broadcast(F, q[qo + d + 1]), a1);
                b0 = k0.fma(FloatVector.broadcast(F, q[q1 + d]), b0);
                b1 = k1.fma(FloatVector.broadcast(F, q[q1 + d + 1]), b1);
                c0v = k0.fma(FloatVector.broadcast(F, q[q2 + d]), c0v);
                c1 = k1.fma(FloatVector.broadcast(F, q[q2 + d + 1]), c1);
                d0 = k0.fma(FloatVector.broadcast(F, q[q3 + d]), d0);
                d1 = k1.fma(FloatVector.broadcast(F, q[q3 + d + 1]), d1);
            }
            if (d < dim) {
                FloatVector k0 = FloatVector.fromArray(F, k, ko + d * bs + c0);
                a0 = k0.fma(FloatVector.broadcast(F, q[qo + d]), a0);
                b0 = k0.fma(FloatVector.broadcast(F, q[q1 + d]), b0);
                c0v = k0.fma(FloatVector.broadcast(F, q[q2 + d]), c0v);
                d0 = k0.fma(FloatVector.broadcast(F, q[q3 + d]), d0);
            }
            a0.add(a1).mul(scale).intoArray(s, so + c0);
            b0.add(b1).mul(scale).intoArray(s, so + stride + c0);
            c0v.add(c1).mul(scale).intoArray(s, so + 2 * stride + c0);
            d0.add(d1).mul(scale).intoArray(s, so + 3 * stride + c0);
        }
        for (int i = 0; i < 4; i++) tail(q, qo + i * dim, dim, k, ko, bs, c0, rows, scale, s, so + i * stride);
    }

    /** {@link #block4} for one query head: s[so + r] = scale · q · k_r. */
    public static void block1(float[] q, int qo, int dim, float[] k, int ko, int bs, int rows, float scale, float[] s, int so) {
        int step = F.length(), c0 = 0;
        for (; c0 < rows && c0 + step <= bs; c0 += step) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            int d = 0;
            for (int r = ko + c0; d + 2 <= dim; d += 2, r += 2 * bs) {
                a0 = FloatVector.fromArray(F, k, r).fma(FloatVector.broadcast(F, q[qo + d]), a0);
                a1 = FloatVector.fromArray(F, k, r + bs).fma(FloatVector.broadcast(F, q[qo + d + 1]), a1);
            }
            if (d < dim) a0 = FloatVector.fromArray(F, k, ko + d * bs + c0).fma(FloatVector.broadcast(F, q[qo + d]), a0);
            a0.add(a1).mul(scale).intoArray(s, so + c0);
        }
        tail(q, qo, dim, k, ko, bs, c0, rows, scale, s, so);
    }

    /** Rows [r0, rows) one at a time, where a vector would reach past the block (its size not a multiple of the lanes). */
    private static void tail(float[] q, int qo, int dim, float[] k, int ko, int bs, int r0, int rows, float scale, float[] s, int so) {
        for (int r = r0; r < rows; r++) {
            float sum = 0;
            for (int d = 0; d < dim; d++) sum += q[qo + d] * k[ko + d * bs + r];
            s[so + r] = sum * scale;
        }
    }
}
