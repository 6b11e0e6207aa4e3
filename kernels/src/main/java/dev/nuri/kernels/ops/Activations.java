package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

import jdk.incubator.vector.FloatVector;
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
     * In-place softmax over x[off .. off+len): max, exp and sum, scale, each a vector pass (the exponentials on the
     * vector unit: a scalar Math.exp per score was a tenth of a long prefill). The sum's order is by lane, not by index.
     */
    public static void softmax(float[] x, int off, int len) {
        int step = F.length(), i = 0;
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i + step <= len; i += step) vmax = vmax.max(FloatVector.fromArray(F, x, off + i));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < len; i++) max = Math.max(max, x[off + i]);
        FloatVector vm = FloatVector.broadcast(F, max), vsum = FloatVector.zero(F);
        for (i = 0; i + step <= len; i += step) {
            FloatVector e = FloatVector.fromArray(F, x, off + i).sub(vm).lanewise(VectorOperators.EXP);
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = vsum.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        FloatVector inv = FloatVector.broadcast(F, 1f / sum);
        for (i = 0; i + step <= len; i += step) FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
        float s = 1f / sum;
        for (; i < len; i++) x[off + i] *= s;
    }
}
