package dev.nuri.kernels.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Router semantics of ../shared/design/REFERENCE.md §3 on hand-computable inputs: an identity gate makes logits = x. */
class RouterTest {
    static WeightMatrix identity(int n) {
        MemorySegment s = Arena.ofAuto().allocate(n * n * 4L);
        for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) i * n + i, 1f);
        return WeightMatrix.of(new Tensor("gate", DType.F32, new long[] {n, n}, s));
    }

    @Test
    void groupLimitedRoutingChoosesOnlyInsideTheBestGroupsAndWeightsWithUnbiasedScores() {
        // 8 experts in 4 groups of 2; the best single expert (index 7 after bias) sits in a weak group
        float[] x = {2f, 1.9f, -3f, -3f, 1.5f, 1.4f, -4f, 0.2f};
        float[] bias = {0, 0, 0, 0, 0, 0, 0, 3f};
        var router = new GroupLimitedSigmoidRouter(identity(8), bias, 2, 4, 2, true, 2.5f);
        int[] ids = new int[2];
        float[] w = new float[2];
        router.route(x, 1, ids, w);
        // group scores (top-2 biased sums): g0 ≈ 1.75, g1 ≈ 0.09, g2 ≈ 1.62, g3 ≈ 3.57 -> keep g3 and g0
        assertThat(ids).containsExactly(7, 0);
        double s7 = 1 / (1 + Math.exp(-0.2)), s0 = 1 / (1 + Math.exp(-2));
        assertThat((double) w[0]).isCloseTo(2.5 * s7 / (s7 + s0), org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) w[1]).isCloseTo(2.5 * s0 / (s7 + s0), org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void groupsAreScoredByTheSumOfTheirTopTwoExpertsNotTheirBestOneNorAllOfThem() {
        // 12 experts in 3 groups of 4, one group kept. Each scoring rule keeps a different group:
        //   g0 one strong expert:  top-1 0.953 (best), top-2 1.000,        sum 1.095
        //   g1 two strong experts: top-1 0.818,        top-2 1.620 (best), sum 1.715
        //   g2 four fair experts:  top-1 0.690,        top-2 1.358,        sum 2.626 (best)
        float[] x = {3f, -3f, -3f, -3f, 1.5f, 1.4f, -3f, -3f, 0.8f, 0.7f, 0.6f, 0.5f};
        var router = new GroupLimitedSigmoidRouter(identity(12), new float[12], 2, 3, 1, true, 1f);
        int[] ids = new int[2];
        router.route(x, 1, ids, new float[2]);
        assertThat(ids).as("top-2 group scoring keeps g1; top-1 would give [0, 1], the whole-group sum [8, 9]")
                .containsExactly(4, 5);
    }

    @Test
    void softmaxRoutingRenormalisesOnlyWhenAsked() {
        float[] x = {0f, 2f, 1f, -1f};
        int[] ids = new int[2];
        float[] raw = new float[2], norm = new float[2];
        new SoftmaxTopKRouter(identity(4), 2, false).route(x, 1, ids, raw);
        assertThat(ids).containsExactly(1, 2);
        new SoftmaxTopKRouter(identity(4), 2, true).route(x, 1, ids, norm);
        double z = 1 + Math.exp(2) + Math.exp(1) + Math.exp(-1);
        assertThat((double) raw[0]).isCloseTo(Math.exp(2) / z, org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) norm[0]).isCloseTo(Math.exp(2) / (Math.exp(2) + Math.exp(1)), org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void topKBreaksTiesByLowestIndex() {
        int[] out = new int[3];
        Router.topK(new float[] {1f, 5f, 5f, 2f, 5f}, 0, 5, 3, out, 0);
        assertThat(out).containsExactly(1, 2, 4);
    }

    @Test
    void aBatchRoutesEveryTokenAsIfItWereAlone() {
        // three tokens that choose different groups and experts: a batch must not leak one token's kept groups,
        // scores or slots into another's
        float[][] tokens = {
            {2f, 1.9f, -3f, -3f, 1.5f, 1.4f, -4f, 0.2f},
            {-3f, -2f, 2.2f, 1.1f, -1f, -2f, 0.3f, 1.7f},
            {0.1f, -0.4f, -2f, 0.9f, 2.6f, -1.5f, 1.2f, 0.6f},
        };
        float[] bias = {0, 0.1f, 0, 0, 0, 0, 0, 0.2f};
        java.util.List<Router> routers = java.util.List.of(
                new GroupLimitedSigmoidRouter(identity(8), bias, 2, 4, 2, true, 2.5f),
                new SoftmaxTopKRouter(identity(8), 3, true),
                new SoftmaxTopKRouter(identity(8), 2, false));
        for (Router router : routers) {
            int k = router.topK(), n = tokens.length;
            float[] batch = new float[n * 8];
            for (int t = 0; t < n; t++) System.arraycopy(tokens[t], 0, batch, t * 8, 8);
            int[] ids = new int[n * k];
            float[] w = new float[n * k];
            router.route(batch, n, ids, w);
            for (int t = 0; t < n; t++) {
                int[] aloneIds = new int[k];
                float[] aloneW = new float[k];
                router.route(tokens[t], 1, aloneIds, aloneW);
                assertThat(java.util.Arrays.copyOfRange(ids, t * k, t * k + k)).as("%s token %d", router.getClass().getSimpleName(), t)
                        .containsExactly(aloneIds);
                assertThat(java.util.Arrays.copyOfRange(w, t * k, t * k + k)).as("%s token %d weights", router.getClass().getSimpleName(), t)
                        .containsExactly(aloneW, org.assertj.core.data.Offset.offset(1e-6f));
            }
        }
    }
}
