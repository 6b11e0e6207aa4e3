package dev.nuri.kernels.moe;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/** Mixtral / Qwen3-MoE: p = softmax(W_g x) in fp32; top-k of p; renormalised over the k when asked. */
public final class SoftmaxTopKRouter implements Router {
    private final WeightMatrix gate;
    private final int k;
    private final boolean normTopkProb;

    public SoftmaxTopKRouter(WeightMatrix gate, int k, boolean normTopkProb) {
        this.gate = gate;
        this.k = k;
        this.normTopkProb = normTopkProb;
    }

    @Override
    public int topK() {
        return k;
    }

    @Override
    public void route(float[] x, int n, int[] experts, float[] weights) {
        int e = gate.rows();
        float[] p = Scratch.floats(Scratch.Slot.ROUTER, n * e);
        gate.matmul(x, n, p);
        for (int t = 0; t < n; t++) {
            Activations.softmax(p, t * e, e);
            Router.topK(p, t * e, e, k, experts, t * k);
            float sum = 0;
            for (int j = 0; j < k; j++) sum += p[t * e + experts[t * k + j]];
            for (int j = 0; j < k; j++) {
                float w = p[t * e + experts[t * k + j]];
                weights[t * k + j] = normTopkProb ? w / sum : w;
            }
        }
    }
}
