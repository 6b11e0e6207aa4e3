package dev.nuri.kernels.model;

import dev.nuri.kernels.ops.Rope;

/** config.json's {@code rope_parameters} (transformers ≥ 5) or legacy {@code rope_theta} + {@code rope_scaling}. */
public record RopeParameters(String ropeType, double ropeTheta, double factor, int originalMaxPositionEmbeddings,
                             double betaFast, double betaSlow, double mscale, double mscaleAllDim,
                             Double attentionFactor, boolean truncate) {

    public static RopeParameters standard(double theta) {
        return new RopeParameters("default", theta, 1, 0, 32, 1, 0, 0, null, true);
    }

    public boolean isYarn() {
        return ropeType.equals("yarn");
    }

    public Rope rope(int dim, boolean interleaved) {
        return isYarn()
                ? Rope.yarn(dim, ropeTheta, interleaved, factor, originalMaxPositionEmbeddings, betaFast, betaSlow,
                        mscale, mscaleAllDim, attentionFactor, truncate)
                : Rope.standard(dim, ropeTheta, interleaved);
    }
}
