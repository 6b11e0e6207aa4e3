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
     * {@link #apply} in two halves, for an implementation whose experts run elsewhere (peer shards): this sends the
     * work and returns, so that the caller computes meanwhile (the shared expert, another micro-batch's attention);
     * {@link Pending#finish} waits for the answers and adds them into {@code out}, with the same sums in the same
     * order as {@code apply}. {@code hidden}, {@code experts} and {@code weights} must stay unchanged until then.
     * Default: everything is computed here and now.
     */
    default Pending start(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
        apply(layer, tokens, k, hidden, experts, weights, out);
        return Pending.DONE;
    }

    /** A layer's routed experts under way ({@link #start}). */
    @FunctionalInterface
    interface Pending {
        Pending DONE = () -> {};

        /** Waits for the experts' answers and adds them into the output given to {@link #start}. */
        void finish();
    }

    /**
     * Rows from which a forward pass runs as two micro-batches, each one's expert traffic overlapping the other's
     * compute (two-batch overlap); 0: never. Only worth it where {@link #start} returns before the work is done.
     */
    default int twoBatchOverlapMinRows() {
        return 0;
    }

    /** Whether a forward pass of this many rows runs as two overlapped micro-batches. */
    default boolean overlaps(int rows) {
        int from = twoBatchOverlapMinRows();
        return from > 0 && rows >= Math.max(2, from);
    }

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
