package dev.nuri.operator.autoscaling;

import java.util.Arrays;
import java.util.OptionalDouble;

/**
 * A Prometheus histogram as cumulative bucket counts: {@code counts[i]} observations were at most
 * {@code bounds[i]}; the last bound is +Inf. Latency targets are judged on the difference of two
 * such snapshots (what happened inside a window), never on a process's lifetime totals.
 */
public record Histogram(double[] bounds, double[] counts) {

    public static final Histogram EMPTY = new Histogram(new double[] {Double.POSITIVE_INFINITY}, new double[] {0});

    public Histogram {
        if (bounds.length != counts.length || bounds.length == 0 || bounds[bounds.length - 1] != Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException("a histogram needs one count per bucket and a +Inf bucket, got bounds "
                    + Arrays.toString(bounds));
        }
    }

    public double total() {
        return counts[counts.length - 1];
    }

    /** The sum of two shards' histograms with the same buckets (an empty one adds nothing). */
    public Histogram plus(Histogram other) {
        if (other.total() == 0 && other.bounds.length == 1) return this;
        if (total() == 0 && bounds.length == 1) return other;
        requireSameBuckets(other);
        double[] sum = counts.clone();
        for (int i = 0; i < sum.length; i++) sum[i] += other.counts[i];
        return new Histogram(bounds, sum);
    }

    /**
     * What was observed since {@code earlier}. A count that went down means the process restarted
     * (counters start again at zero), so everything in this snapshot is new, as Prometheus' rate() reads it.
     */
    public Histogram since(Histogram earlier) {
        if (earlier.bounds.length == 1 && earlier.total() == 0) return this;
        if (!Arrays.equals(bounds, earlier.bounds)) return this; // new buckets: a new process
        double[] delta = new double[counts.length];
        for (int i = 0; i < delta.length; i++) {
            delta[i] = counts[i] - earlier.counts[i];
            if (delta[i] < 0) return this;
        }
        return new Histogram(bounds, delta);
    }

    /**
     * The q-quantile as Prometheus' histogram_quantile computes it: linear inside the bucket that
     * holds it; in the +Inf bucket, the highest finite bound. Empty when nothing was observed.
     */
    public OptionalDouble quantile(double q) {
        double total = total();
        if (total <= 0) return OptionalDouble.empty();
        double rank = q * total;
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] >= rank) {
                if (bounds[i] == Double.POSITIVE_INFINITY) {
                    return OptionalDouble.of(i == 0 ? 0 : bounds[i - 1]);
                }
                double lower = i == 0 ? 0 : bounds[i - 1];
                double below = i == 0 ? 0 : counts[i - 1];
                double inBucket = counts[i] - below;
                return OptionalDouble.of(inBucket <= 0 ? lower : lower + (bounds[i] - lower) * (rank - below) / inBucket);
            }
        }
        return OptionalDouble.of(bounds[bounds.length - 1]);
    }

    private void requireSameBuckets(Histogram other) {
        if (!Arrays.equals(bounds, other.bounds)) {
            throw new IllegalArgumentException("histograms with different buckets: " + Arrays.toString(bounds) + " and "
                    + Arrays.toString(other.bounds));
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Histogram h && Arrays.equals(bounds, h.bounds) && Arrays.equals(counts, h.counts);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(bounds) + Arrays.hashCode(counts);
    }

    @Override
    public String toString() {
        return "Histogram" + Arrays.toString(bounds) + "=" + Arrays.toString(counts);
    }
}
