package dev.nuri.kernels.moe;

/** Chooses k experts per token and their final weights (semantics of ../shared/design/REFERENCE.md §3, beside the repository). */
public interface Router {
    int topK();

    /** x: n normalised rows; fills experts[n*k] and weights[n*k]. */
    void route(float[] x, int n, int[] experts, float[] weights);

    /** Indices of the k largest values (ties: lowest index first), in descending order of value. */
    static void topK(float[] v, int off, int len, int k, int[] out, int outOff) {
        for (int j = 0; j < k; j++) out[outOff + j] = -1;
        for (int i = 0; i < len; i++) {
            float x = v[off + i];
            int pos = k;
            while (pos > 0 && (out[outOff + pos - 1] == -1 || v[off + out[outOff + pos - 1]] < x)) pos--;
            if (pos >= k) continue;
            for (int j = k - 1; j > pos; j--) out[outOff + j] = out[outOff + j - 1];
            out[outOff + pos] = i;
        }
    }
}
