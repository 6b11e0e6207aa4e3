package dev.nuri.kernels.moe;

import dev.nuri.kernels.ops.Blas1;
import dev.nuri.kernels.ops.Norms;

/**
 * One sparse MLP: router, routed experts (through the {@link RoutedExperts} seam), ungated shared experts,
 * and A.X K1's {@code post_mlp_layernorm} over the sum (null for other architectures).
 */
public final class MoeBlock {
    private final int layer;
    private final Router router;
    private final FeedForward sharedExperts; // null if none
    private final float[] postMlpLayernorm;  // A.X K1 only
    private final float eps;

    public MoeBlock(int layer, Router router, FeedForward sharedExperts, float[] postMlpLayernorm, float eps) {
        this.layer = layer;
        this.router = router;
        this.sharedExperts = sharedExperts;
        this.postMlpLayernorm = postMlpLayernorm;
        this.eps = eps;
    }

    public Router router() {
        return router;
    }

    /** out[n × H] = MoE(x) for normalised rows x. */
    public void forward(float[] x, int n, int hidden, RoutedExperts experts, float[] out) {
        start(x, n, hidden, experts, out, sharedExperts == null ? null : new float[n * hidden]).finish();
    }

    /**
     * The first half of {@link #forward}: routes, starts the routed experts and computes the shared expert while
     * they are under way (on peer shards: the traffic overlaps this compute). {@link Started#finish} completes
     * {@code out}; x must stay unchanged until then. {@code shared} (n × hidden, unused without a shared expert)
     * holds the shared expert's output until then: the caller's, so that a step allocates none per layer.
     */
    public Started start(float[] x, int n, int hidden, RoutedExperts experts, float[] out, float[] shared) {
        int k = router.topK();
        int[] ids = new int[n * k];
        float[] w = new float[n * k];
        router.route(x, n, ids, w);
        java.util.Arrays.fill(out, 0, n * hidden, 0f);
        RoutedExperts.Pending routed = experts.start(layer, n, k, x, ids, w, out);
        if (sharedExperts != null) sharedExperts.forward(x, n, shared);
        else shared = null;
        return new Started(routed, shared, out, n, hidden);
    }

    /** An MoE layer whose routed experts are under way. */
    public final class Started {
        private final RoutedExperts.Pending routed;
        private final float[] shared;
        private final float[] out;
        private final int n, hidden;

        private Started(RoutedExperts.Pending routed, float[] shared, float[] out, int n, int hidden) {
            this.routed = routed;
            this.shared = shared;
            this.out = out;
            this.n = n;
            this.hidden = hidden;
        }

        /** Routed sum first, then the shared expert added to it: the order of the sums never changes. */
        public void finish() {
            routed.finish();
            if (shared != null) Blas1.add(shared, out, n * hidden);
            if (postMlpLayernorm != null) Norms.rmsNormRows(out, n, hidden, postMlpLayernorm, eps, out);
        }
    }
}
