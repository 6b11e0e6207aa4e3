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
        int k = router.topK();
        int[] ids = new int[n * k];
        float[] w = new float[n * k];
        router.route(x, n, ids, w);
        java.util.Arrays.fill(out, 0, n * hidden, 0f);
        experts.apply(layer, n, k, x, ids, w, out);
        if (sharedExperts != null) {
            float[] shared = new float[n * hidden];
            sharedExperts.forward(x, n, shared);
            Blas1.add(shared, out, n * hidden);
        }
        if (postMlpLayernorm != null) Norms.rmsNormRows(out, n, hidden, postMlpLayernorm, eps, out);
    }
}
