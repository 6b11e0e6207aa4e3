package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/** Element-wise activations and softmax. */
public final class Activations {
    private Activations() {}

    public static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    public static float sigmoid(float x) {
        return 1f / (1f + (float) Math.exp(-x));
    }

    /** SwiGLU: out[i] = silu(gate[i]) · up[i]. */
    public static void swiglu(float[] gate, int gOff, float[] up, int uOff, float[] out, int oOff, int len) {
        for (int i = 0; i < len; i++) out[oOff + i] = silu(gate[gOff + i]) * up[uOff + i];
    }

    /**
     * In-place softmax over x[off .. off+len): max, exp and sum, scale, each a vector pass (a scalar Math.exp per score
     * was a tenth of a long prefill). The exponential is {@link #expNonPositive} and the lanes' sums are added in lane
     * order, both plain IEEE arithmetic: the result is the same in the interpreter and in C2's code (the Vector API's
     * own EXP and reduceLanes are not, and a 1-ulp change moved a tiny model's top-k routing and a logprob by 2e-3).
     */
    public static void softmax(float[] x, int off, int len) {
        int step = F.length(), i = 0;
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i + step <= len; i += step) vmax = vmax.max(FloatVector.fromArray(F, x, off + i));
        float max = vmax.reduceLanes(VectorOperators.MAX); // exact in any order
        for (; i < len; i++) max = Math.max(max, x[off + i]);
        FloatVector vm = FloatVector.broadcast(F, max), vsum = FloatVector.zero(F);
        for (i = 0; i + step <= len; i += step) {
            FloatVector e = expNonPositive(FloatVector.fromArray(F, x, off + i).sub(vm));
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = 0;
        for (int lane = 0; lane < step; lane++) sum += vsum.lane(lane);
        for (; i < len; i++) {
            float e = expNonPositive(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        FloatVector vinv = FloatVector.broadcast(F, inv);
        for (i = 0; i + step <= len; i += step) FloatVector.fromArray(F, x, off + i).mul(vinv).intoArray(x, off + i);
        for (; i < len; i++) x[off + i] *= inv;
    }

    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** 1.5 · 2^23: adding it rounds a float below 2^22 in magnitude to an integer, held in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    private static final float MIN_ARG = -87.33f; // exp of it is the smallest normal float; lower arguments give it too
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /**
     * e^x for x ≤ 0 (Cephes' expf: x = n·ln 2 + r, a degree-7 polynomial in r, 2^n from the exponent bits), within
     * 2 ulp; arguments below -87.33 give about 1.2e-38 instead of a subnormal or 0.
     */
    static FloatVector expNonPositive(FloatVector x) {
        x = x.max(MIN_ARG);
        FloatVector t = x.fma(LOG2E, ROUND), n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1).fma(r, FloatVector.broadcast(F, P2)).fma(r, FloatVector.broadcast(F, P3))
                .fma(r, FloatVector.broadcast(F, P4)).fma(r, FloatVector.broadcast(F, P5));
        FloatVector y = p.mul(r).fma(r, r).add(1f); // p·r² + r + 1
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    /** {@link #expNonPositive(FloatVector)} on one float, with the same operations in the same order. */
    static float expNonPositive(float x) {
        x = Math.max(x, MIN_ARG);
        float t = Math.fma(x, LOG2E, ROUND), n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, P0, P1), r, P2), r, P3), r, P4), r, P5);
        float y = Math.fma(p * r, r, r) + 1f;
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND) + 127) << 23;
        return y * Float.intBitsToFloat(bits);
    }
}
