package dev.nuri.kernels.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * GQA's attention over its cache (keys stored dimension-major per block) against the formula computed in doubles:
 * softmax(q·k / sqrt(head_dim)) · v for every query head over its group's KV head, causal. The shapes cover a group
 * of four and more (the four-head tile, then single heads), single heads (multi-head attention), an odd head size, and
 * block sizes that are and are not a multiple of the vector length (the per-position tail).
 */
class GroupedQueryAttentionTest {
    @ParameterizedTest(name = "heads {0}, kv heads {1}, head dim {2}, block {3}")
    @CsvSource({"16, 4, 64, 16", "6, 1, 64, 16", "4, 4, 33, 16", "12, 2, 64, 10", "8, 2, 128, 32", "5, 1, 17, 7"})
    void attendsLikeTheFormula(int heads, int kvHeads, int headDim, int block) {
        int kw = kvHeads * headDim, qw = heads * headDim, len = 75, rows = 9;
        Random random = new Random(heads * 31L + headDim);
        KvCache c = new KvCache(new KvBlockPool(1, block, (len + block - 1) / block, kw, kw), len);
        c.reserve(len);
        float[] k = gaussian(len * kw, random), v = gaussian(len * kw, random);
        for (int p = 0; p < len; p++) {
            GroupedQueryAttention.writeKey(c, 0, p, k, p * kw, kw);
            System.arraycopy(v, p * kw, c.values(0, p), (p % block) * kw, kw);
        }
        c.commit(len);
        // a prefill chunk: the last rows positions, each attending causally up to its own
        KvCache[] caches = new KvCache[rows];
        int[] positions = new int[rows];
        for (int t = 0; t < rows; t++) {
            caches[t] = c;
            positions[t] = len - rows + t;
        }
        float[] q = gaussian(rows * qw, random), out = new float[rows * qw];
        var gqa = new GroupedQueryAttention(0, heads, kvHeads, headDim, null, null, null, null, null, null, 1e-6f, null);
        gqa.attend(q, caches, positions, rows, out, 0, rows * kvHeads, new float[][] {new float[0], new float[0], new float[0]});

        int group = heads / kvHeads;
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < heads; h++) {
                int n = positions[t] + 1, qo = t * qw + h * headDim, ko = (h / group) * headDim;
                double[] p = new double[n];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int s = 0; s < n; s++) {
                    for (int d = 0; d < headDim; d++) p[s] += (double) q[qo + d] * k[s * kw + ko + d];
                    p[s] /= Math.sqrt(headDim);
                    max = Math.max(max, p[s]);
                }
                for (int s = 0; s < n; s++) sum += p[s] = Math.exp(p[s] - max);
                for (int d = 0; d < headDim; d++) {
                    double o = 0;
                    for (int s = 0; s < n; s++) o += p[s] / sum * v[s * kw + ko + d];
                    assertThat(out[qo + d]).as("row %d head %d dim %d", t, h, d).isCloseTo((float) o, within(2e-5f));
                }
            }
        }
    }

    static float[] gaussian(int n, Random random) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }
}
