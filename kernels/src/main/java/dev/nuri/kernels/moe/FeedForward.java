package dev.nuri.kernels.moe;

import dev.nuri.kernels.ops.Activations;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;

/** The SwiGLU MLP down(silu(gate·x) ⊙ up·x): dense layers, shared experts and each routed expert. */
public record FeedForward(WeightMatrix gate, WeightMatrix up, WeightMatrix down) {

    public int hidden() {
        return gate.cols();
    }

    public int intermediate() {
        return gate.rows();
    }

    /** Weight bytes one token streams through this MLP. */
    public long bytes() {
        return gate.bytes() + up.bytes() + down.bytes();
    }

    /** out[n × H] = FFN(x[n × H]) (overwrites out). */
    public void forward(float[] x, int n, float[] out) {
        int inter = gate.rows();
        float[] g = Scratch.floats(Scratch.Slot.GATE, n * inter);
        float[] u = Scratch.floats(Scratch.Slot.UP, n * inter);
        gate.matmul(x, n, g);
        up.matmul(x, n, u);
        Activations.swiglu(g, 0, u, 0, g, 0, n * inter);
        down.matmul(g, n, out);
    }
}
