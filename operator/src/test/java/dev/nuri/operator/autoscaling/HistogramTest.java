package dev.nuri.operator.autoscaling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class HistogramTest {

    static final double INF = Double.POSITIVE_INFINITY;
    static final double[] BOUNDS = {0.1, 0.5, 1.0, INF};

    @Test
    void quantileInterpolatesInsideTheBucketAsPrometheusDoes() {
        // 10 at most 0.1 s, 80 in (0.1, 0.5], 10 in (0.5, 1.0]: rank 90 is the top of the second bucket
        Histogram h = new Histogram(BOUNDS, new double[] {10, 90, 100, 100});
        assertThat(h.quantile(0.9).getAsDouble()).isCloseTo(0.5, within(1e-9));
        assertThat(h.quantile(0.5).getAsDouble()).isCloseTo(0.1 + 0.4 * 40 / 80, within(1e-9));
        assertThat(h.quantile(0.05).getAsDouble()).isCloseTo(0.05, within(1e-9));
        // in the +Inf bucket: the highest finite bound
        assertThat(new Histogram(BOUNDS, new double[] {0, 0, 1, 10}).quantile(0.9).getAsDouble()).isEqualTo(1.0);
        assertThat(Histogram.EMPTY.quantile(0.9)).isEmpty();
    }

    @Test
    void aWindowSeesOnlyWhatHappenedInsideIt() {
        // a shard was slow for a long time, then fast: the window's p90 is the fast one
        Histogram before = new Histogram(BOUNDS, new double[] {0, 0, 1000, 1000});
        Histogram after = new Histogram(BOUNDS, new double[] {100, 100, 1100, 1100});
        assertThat(after.quantile(0.9).getAsDouble()).as("lifetime").isGreaterThan(0.5);
        assertThat(after.since(before).quantile(0.9).getAsDouble()).as("window").isCloseTo(0.09, within(1e-9));
    }

    @Test
    void aCounterThatWentDownIsARestart() {
        Histogram before = new Histogram(BOUNDS, new double[] {0, 0, 1000, 1000});
        Histogram restarted = new Histogram(BOUNDS, new double[] {5, 5, 5, 5});
        assertThat(restarted.since(before)).isEqualTo(restarted);
    }

    @Test
    void shardsAddUp() {
        Histogram a = new Histogram(BOUNDS, new double[] {1, 2, 3, 4});
        assertThat(a.plus(a)).isEqualTo(new Histogram(BOUNDS, new double[] {2, 4, 6, 8}));
        assertThat(Histogram.EMPTY.plus(a)).isEqualTo(a);
    }
}
