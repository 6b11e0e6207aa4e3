package dev.nuri.kernels.ops;

/**
 * Rotary position embedding over {@code dim} channels, with the inverse frequencies and cos/sin scale
 * ("attention factor") of transformers' {@code modeling_rope_utils} for "default" and "yarn" rope types.
 * <ul>
 * <li>{@code interleaved}: DeepSeek/A.X K1 layout, pairs (2i, 2i+1) share frequency i. transformers writes the
 *   result de-interleaved, but q and k get the same permutation, so q·k — all attention sees — is identical.</li>
 * <li>otherwise NeoX "rotate_half": pairs (i, i + dim/2) (Qwen3, Mixtral).</li>
 * </ul>
 */
public final class Rope {
    private final int dim;
    private final boolean interleaved;
    private final float[] invFreq;
    private final float attentionFactor;

    public Rope(int dim, boolean interleaved, float[] invFreq, float attentionFactor) {
        this.dim = dim;
        this.interleaved = interleaved;
        this.invFreq = invFreq;
        this.attentionFactor = attentionFactor;
    }

    public static Rope standard(int dim, double theta, boolean interleaved) {
        return new Rope(dim, interleaved, baseInvFreq(dim, theta), 1f);
    }

    private static float[] baseInvFreq(int dim, double theta) {
        float[] f = new float[dim / 2];
        // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), evaluated in float32
        for (int i = 0; i < dim / 2; i++) f[i] = (float) (1.0 / (float) Math.pow(theta, (float) (2 * i) / dim));
        return f;
    }

    /** YaRN (transformers {@code _compute_yarn_parameters}). attentionFactor null: derived from mscale/mscale_all_dim. */
    public static Rope yarn(int dim, double theta, boolean interleaved, double factor, int originalMaxPositions,
                            double betaFast, double betaSlow, double mscale, double mscaleAllDim,
                            Double attentionFactor, boolean truncate) {
        double af;
        if (attentionFactor != null) af = attentionFactor;
        else if (mscale != 0 && mscaleAllDim != 0) af = yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
        else af = yarnMscale(factor, 1);
        double low = correctionDim(betaFast, dim, theta, originalMaxPositions);
        double high = correctionDim(betaSlow, dim, theta, originalMaxPositions);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) high += 0.001;
        float[] f = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            float posFreq = (float) Math.pow(theta, (float) (2 * i) / dim);
            float extrapolation = 1f / posFreq;
            float interpolation = (float) (1.0 / (factor * posFreq));
            float ramp = (float) Math.min(1, Math.max(0, (i - low) / (high - low)));
            float extrapolationFactor = 1 - ramp;
            f[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return new Rope(dim, interleaved, f, (float) af);
    }

    /** DeepSeek's yarn_get_mscale: 0.1·m·ln(scale) + 1 for scale &gt; 1. */
    public static double yarnMscale(double scale, double m) {
        return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
    }

    private static double correctionDim(double rotations, int dim, double base, int maxPositions) {
        return (dim * Math.log(maxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }

    public int dim() {
        return dim;
    }

    /** Rotates x[off .. off+dim) in place for position {@code pos}. */
    public void apply(float[] x, int off, int pos) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            float angle = pos * invFreq[i];
            float cos = (float) Math.cos(angle) * attentionFactor;
            float sin = (float) Math.sin(angle) * attentionFactor;
            int a = interleaved ? off + 2 * i : off + i;
            int b = interleaved ? a + 1 : a + half;
            float x1 = x[a], x2 = x[b];
            x[a] = x1 * cos - x2 * sin;
            x[b] = x2 * cos + x1 * sin;
        }
    }
}
