package dev.nuri.kernels.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
    final float[] logits = {1f, 3f, 2.5f, -1f, 0f};

    @Test
    void greedyTakesTheLargestLogit() {
        assertThat(Sampler.sample(logits, SamplerSettings.GREEDY, new SplittableRandom(1))).isEqualTo(1);
    }

    @Test
    void topKOneIsGreedyAndTopKLimitsTheSupport() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 200; i++) {
            assertThat(Sampler.sample(logits, new SamplerSettings(5f, 1, 1f), r)).isEqualTo(1);
            assertThat(Sampler.sample(logits, new SamplerSettings(5f, 2, 1f), r)).isIn(1, 2);
        }
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        // p(1) ≈ 0.53, p(2) ≈ 0.32: top_p 0.5 keeps only token 1, 0.8 keeps 1 and 2
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 200; i++) {
            assertThat(Sampler.sample(logits, new SamplerSettings(1f, 0, 0.5f), r)).isEqualTo(1);
            assertThat(Sampler.sample(logits, new SamplerSettings(1f, 0, 0.8f), r)).isIn(1, 2);
        }
    }

    @Test
    void seededSamplingIsReproducibleAndFollowsTheDistribution() {
        SamplerSettings p = new SamplerSettings(1f, 0, 1f);
        int[] counts = new int[logits.length];
        SplittableRandom a = new SplittableRandom(42), b = new SplittableRandom(42);
        for (int i = 0; i < 20000; i++) {
            int x = Sampler.sample(logits, p, a);
            assertThat(Sampler.sample(logits, p, b)).isEqualTo(x);
            counts[x]++;
        }
        float[] lp = Sampler.logSoftmax(logits);
        for (int i = 0; i < logits.length; i++) {
            assertThat(counts[i] / 20000.0).isCloseTo(Math.exp(lp[i]), org.assertj.core.data.Offset.offset(0.015));
        }
    }

    @Test
    void logprobsAreNormalisedAndTopLogprobsSorted() {
        float[] lp = Sampler.logSoftmax(logits);
        double sum = 0;
        for (float v : lp) sum += Math.exp(v);
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
        var top = Sampler.topLogprobs(logits, 3);
        assertThat(top).extracting(Sampler.Candidate::token).containsExactly(1, 2, 0);
        assertThat(top[0].logprob()).isEqualTo(lp[1]);
    }

    @Test
    void temperatureSharpensOrFlattensTheDistribution() {
        for (float temperature : new float[] {0.5f, 2f}) {
            SamplerSettings p = new SamplerSettings(temperature, 0, 1f);
            float[] scaled = new float[logits.length];
            for (int i = 0; i < logits.length; i++) scaled[i] = logits[i] / temperature;
            float[] lp = Sampler.logSoftmax(scaled);
            int[] counts = new int[logits.length];
            SplittableRandom r = new SplittableRandom(7);
            for (int i = 0; i < 20000; i++) counts[Sampler.sample(logits, p, r)]++;
            for (int i = 0; i < logits.length; i++) {
                assertThat(counts[i] / 20000.0).as("token %d at temperature %s", i, temperature)
                        .isCloseTo(Math.exp(lp[i]), org.assertj.core.data.Offset.offset(0.015));
            }
        }
    }

    @Test
    void topPRenormalisesInsideTheNucleus() {
        // top_p 0.8 keeps tokens 1 and 2 (0.53 + 0.32); they are then drawn in the ratio e^3 : e^2.5
        SplittableRandom r = new SplittableRandom(11);
        int ones = 0, n = 20000;
        for (int i = 0; i < n; i++) if (Sampler.sample(logits, new SamplerSettings(1f, 0, 0.8f), r) == 1) ones++;
        double expected = Math.exp(3) / (Math.exp(3) + Math.exp(2.5));
        assertThat(ones / (double) n).isCloseTo(expected, org.assertj.core.data.Offset.offset(0.015));
    }

    @Test
    void tiesGoToTheLowestTokenId() {
        float[] tied = {0.5f, 2f, 2f, 2f};
        assertThat(Sampler.argmax(tied)).isEqualTo(1);
        assertThat(Sampler.topLogprobs(tied, 2)).extracting(Sampler.Candidate::token).containsExactly(1, 2);
        assertThat(Sampler.topLogprobs(new float[] {1f, 1f, 1f}, 2)).extracting(Sampler.Candidate::token).containsExactly(0, 1);
        // top_k 1 at any temperature keeps only the lowest id among the tied best
        assertThat(Sampler.sample(tied, new SamplerSettings(1f, 1, 1f), new SplittableRandom(1))).isEqualTo(1);
    }

    @Test
    void topLogprobsAskedForMoreThanTheVocabularyGiveEveryToken() {
        assertThat(Sampler.topLogprobs(logits, 50)).extracting(Sampler.Candidate::token).containsExactly(1, 2, 0, 4, 3);
    }

    @Test
    void invalidKnobsAreRejectedAndTheirLimitsAccepted() {
        assertThat(new SamplerSettings(0f, 0, 1f).greedy()).isTrue();
        assertThat(new SamplerSettings(Float.MIN_VALUE, 0, Float.MIN_VALUE).greedy()).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplerSettings(-0.01f, 0, 1f)).hasMessageContaining("temperature");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplerSettings(Float.NaN, 0, 1f)).hasMessageContaining("temperature");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplerSettings(1f, -1, 1f)).hasMessageContaining("top_k");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplerSettings(1f, 0, 0f)).hasMessageContaining("top_p");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplerSettings(1f, 0, 1.01f)).hasMessageContaining("top_p");
    }
}
