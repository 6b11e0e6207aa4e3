package dev.nuri.kernels.moe;

import java.util.Arrays;

/**
 * The routed experts one shard process owns, serving its own tokens and its peers'. Weights of other
 * experts are memory-mapped but never touched, so they are never paged in.
 */
public final class ExpertShard implements RoutedExperts {
    private final GroupedExperts all;
    private final int[] owned;
    private final boolean[] owns;

    public ExpertShard(GroupedExperts all, int numExperts, int[] ownedExperts) {
        this.all = all;
        this.owned = ownedExperts.clone();
        Arrays.sort(this.owned);
        this.owns = new boolean[numExperts];
        for (int e : owned) {
            if (e < 0 || e >= numExperts) {
                throw new IllegalArgumentException("expert " + e + " does not exist; the model has " + numExperts);
            }
            owns[e] = true;
        }
    }

    GroupedExperts experts() {
        return all;
    }

    public int[] ownedExperts() {
        return owned.clone();
    }

    public boolean owns(int expert) {
        return expert >= 0 && expert < owns.length && owns[expert];
    }

    /** Same as {@link GroupedExperts#apply}; every non-empty (-1) id must be owned. */
    @Override
    public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
        for (int i = 0; i < tokens * k; i++) {
            int e = experts[i];
            if (e != -1 && !owns(e)) {
                throw new IllegalArgumentException("expert " + e + " (token " + i / k + ", slot " + i % k
                        + ") is not owned by this shard, which owns " + Arrays.toString(owned));
            }
        }
        all.apply(layer, tokens, k, hidden, experts, weights, out);
    }
}
