package dev.nuri.kernels.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.CausalLm;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ExpertShardTest {
    static final CausalLm MODEL = CausalLm.builtin("tiny-axk1");

    /** Splits each (token, slot) entry to the shard that owns its expert and sums the shards' outputs. */
    record SplitOverShards(ExpertShard[] shards) implements RoutedExperts {
        @Override
        public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
            for (ExpertShard s : shards) {
                int[] mine = experts.clone();
                for (int i = 0; i < mine.length; i++) if (!s.owns(mine[i])) mine[i] = -1;
                float[] partial = new float[out.length];
                s.apply(layer, tokens, k, hidden, mine, weights, partial);
                for (int i = 0; i < out.length; i++) out[i] += partial[i];
            }
        }
    }

    @Test
    void shardedExpertsGiveTheLocalResultForPrefillAndBatchedDecode() {
        int[] prompt = {1, 17, 300, 42, 7, 99, 256, 3};
        RoutedExperts sharded = new SplitOverShards(new ExpertShard[] {
            MODEL.expertShard(new int[] {0, 1, 2, 3, 4, 15}),
            MODEL.expertShard(new int[] {5, 6, 7, 8, 9}),
            MODEL.expertShard(new int[] {10, 11, 12, 13, 14})});
        KvCache a1 = MODEL.newCache(64), b1 = MODEL.newCache(64), a2 = MODEL.newCache(64), b2 = MODEL.newCache(64);
        float[] local = MODEL.prefill(prompt, a1, MODEL.localExperts());
        float[] split = MODEL.prefill(prompt, a2, sharded);
        assertClose(split, local);
        MODEL.prefill(new int[] {5, 6}, b1, MODEL.localExperts());
        MODEL.prefill(new int[] {5, 6}, b2, sharded);
        float[][] dl = MODEL.decode(new int[] {11, 12}, new KvCache[] {a1, b1}, MODEL.localExperts());
        float[][] ds = MODEL.decode(new int[] {11, 12}, new KvCache[] {a2, b2}, sharded);
        assertClose(ds[0], dl[0]);
        assertClose(ds[1], dl[1]);
        assertThat(a2.length()).isEqualTo(prompt.length + 1);
        assertThat(b2.length()).isEqualTo(3);
    }

    @Test
    void aShardWithoutAllExpertsDiffersFromLocal() {
        // guards the equality test above: dropping experts must change the logits
        int[] prompt = {1, 17, 300, 42};
        float[] local = MODEL.prefill(prompt, MODEL.newCache(16), MODEL.localExperts());
        RoutedExperts partial = new SplitOverShards(new ExpertShard[] {MODEL.expertShard(new int[] {0, 1, 2, 3, 4, 5, 6, 7})});
        float[] missing = MODEL.prefill(prompt, MODEL.newCache(16), partial);
        assertThat(maxAbsDiff(missing, local)).isGreaterThan(1e-3f);
    }

    @Test
    void shardRejectsExpertsItDoesNotOwn() {
        ExpertShard shard = MODEL.expertShard(new int[] {3, 1});
        assertThat(shard.ownedExperts()).containsExactly(1, 3);
        assertThat(shard.owns(3)).isTrue();
        assertThat(shard.owns(2)).isFalse();
        int h = MODEL.config().hiddenSize();
        assertThatThrownBy(() -> shard.apply(1, 1, 2, new float[h], new int[] {1, 2}, new float[] {1, 1}, new float[h]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expert 2");
        assertThatThrownBy(() -> MODEL.expertShard(new int[] {16})).isInstanceOf(IllegalArgumentException.class);
    }

    static void assertClose(float[] actual, float[] expected) {
        float scale = 0;
        for (float v : expected) scale = Math.max(scale, Math.abs(v));
        assertThat(maxAbsDiff(actual, expected)).as("max abs diff vs scale %s", scale).isLessThanOrEqualTo(1e-5f * scale);
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void configExposesTheMoeShape() {
        var c = MODEL.config();
        assertThat(c.modelType()).isEqualTo("axk1");
        assertThat(c.moeLayers()).containsExactly(1, 2, 3);
        assertThat(c.numExperts()).isEqualTo(16);
        assertThat(c.topK()).isEqualTo(4);
        assertThat(c.eosTokenIds()).containsExactly(2);
        assertThat(Arrays.stream(new int[] {c.hiddenSize(), c.vocabSize()})).containsExactly(256, 512);
    }
}
