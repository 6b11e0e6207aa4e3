package dev.nuri.kernels.attention;

/** One layer's self-attention over a batch of rows, each row a token of some sequence. */
public interface Attention {
    /**
     * x: n rows of the normalised layer input; row t is the token at {@code positions[t]} of the sequence
     * whose cache is {@code caches[t]}. Writes each row's key/value into its cache, attends causally over
     * positions 0..positions[t] and writes n rows of hidden-size output into {@code out}.
     */
    void forward(float[] x, int n, KvCache[] caches, int[] positions, float[] out);

    int keyWidth();

    int valueWidth();
}
