package dev.nuri.kernels.moe;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/**
 * DeepSeek-V3 / A.X K1 {@code noaux_tc} routing (transformers' DeepseekV3TopkRouter): s = sigmoid(W_g x) in fp32;
 * choose with s + e_score_correction_bias, but only within the {@code topk_group} groups whose top-2 biased
 * scores sum highest (transformers ≥ 5 masks the rest with −∞); weight with the unbiased s, optionally
 * renormalised, times routed_scaling_factor.
 */
public final class GroupLimitedSigmoidRouter implements Router {
    private final WeightMatrix gate;
    private final float[] correctionBias;
    private final int k, nGroup, topkGroup;
    private final boolean normTopkProb;
    private final float routedScalingFactor;

    public GroupLimitedSigmoidRouter(WeightMatrix gate, float[] correctionBias, int k, int nGroup, int topkGroup,
                                     boolean normTopkProb, float routedScalingFactor) {
        if (gate.rows() % nGroup != 0) {
            throw new IllegalArgumentException(gate.rows() + " experts do not split into n_group=" + nGroup + " groups");
        }
        this.gate = gate;
        this.correctionBias = correctionBias;
        this.k = k;
        this.nGroup = nGroup;
        this.topkGroup = topkGroup;
        this.normTopkProb = normTopkProb;
        this.routedScalingFactor = routedScalingFactor;
    }

    @Override
    public int topK() {
        return k;
    }

    @Override
    public void route(float[] x, int n, int[] experts, float[] weights) {
        int e = gate.rows();
        int perGroup = e / nGroup;
        float[] s = Scratch.floats(Scratch.Slot.ROUTER, n * e);
        gate.matmul(x, n, s);
        float[] choice = new float[e];
        float[] groupScore = new float[nGroup];
        int[] top2 = new int[2];
        int[] keptGroups = new int[topkGroup];
        boolean[] kept = new boolean[nGroup];
        for (int t = 0; t < n; t++) {
            int o = t * e;
            for (int i = 0; i < e; i++) {
                s[o + i] = Activations.sigmoid(s[o + i]);
                choice[i] = s[o + i] + (correctionBias == null ? 0f : correctionBias[i]);
            }
            for (int g = 0; g < nGroup; g++) {
                Router.topK(choice, g * perGroup, perGroup, Math.min(2, perGroup), top2, 0);
                float sum = 0;
                for (int j = 0; j < Math.min(2, perGroup); j++) sum += choice[g * perGroup + top2[j]];
                groupScore[g] = sum;
            }
            Router.topK(groupScore, 0, nGroup, topkGroup, keptGroups, 0);
            java.util.Arrays.fill(kept, false);
            for (int g : keptGroups) kept[g] = true;
            for (int i = 0; i < e; i++) if (!kept[i / perGroup]) choice[i] = Float.NEGATIVE_INFINITY;
            Router.topK(choice, 0, e, k, experts, t * k);
            float sum = 0;
            for (int j = 0; j < k; j++) sum += s[o + experts[t * k + j]];
            for (int j = 0; j < k; j++) {
                float w = s[o + experts[t * k + j]];
                if (normTopkProb) w /= (sum + 1e-20f);
                weights[t * k + j] = w * routedScalingFactor;
            }
        }
    }
}
