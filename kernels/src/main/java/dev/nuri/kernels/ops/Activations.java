package dev.nuri.kernels.ops;

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

    /** In-place softmax over x[off .. off+len). */
    public static void softmax(float[] x, int off, int len) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) max = Math.max(max, x[off + i]);
        float sum = 0;
        for (int i = 0; i < len; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < len; i++) x[off + i] *= inv;
    }
}
