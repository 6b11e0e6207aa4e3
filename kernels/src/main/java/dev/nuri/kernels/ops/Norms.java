package dev.nuri.kernels.ops;

/** RMSNorm as transformers computes it: x · rsqrt(mean(x²) + eps) · weight, in fp32. */
public final class Norms {
    private Norms() {}

    /** Normalises each of {@code n} rows of length {@code dim} in x (stride {@code stride}) into out. */
    public static void rmsNorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int dim) {
        float ss = 0;
        for (int i = 0; i < dim; i++) ss += x[xOff + i] * x[xOff + i];
        float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
        for (int i = 0; i < dim; i++) out[outOff + i] = weight[i] * (x[xOff + i] * inv);
    }

    public static void rmsNormRows(float[] x, int n, int dim, float[] weight, float eps, float[] out) {
        for (int t = 0; t < n; t++) rmsNorm(x, t * dim, weight, eps, out, t * dim, dim);
    }
}
