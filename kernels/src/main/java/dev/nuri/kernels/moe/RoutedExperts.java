package dev.nuri.kernels.moe;

/** Routed-expert contribution of one MoE layer for a batch: the seam where a worker plugs in expert parallelism across processes. */
public interface RoutedExperts {
    /**
     * hidden: tokens*H floats (the normalized MoE input); experts/weights: tokens*k chosen expert ids and their
     * final routing weights (already scaled); adds sum_j weights[t*k+j] * E_{experts[t*k+j]}(hidden_t) into
     * out[t*H..]. Accumulates in fp32. An expert id of -1 marks an empty slot (skipped), so a caller can hand
     * a peer only the entries it owns without repacking.
     */
    void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out);

    /**
     * The experts for one forward pass. An implementation whose placement can change while it serves binds one
     * placement here, so that every MoE layer of the pass uses the same one; {@link #endStep} on the result ends it.
     */
    default RoutedExperts forStep() {
        return this;
    }

    /** The forward pass begun with {@link #forStep} is over (also when it failed). */
    default void endStep() {}
}
