package dev.nuri.kernels.moe;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The routed experts one shard process owns, per MoE layer, serving its own tokens and its peers'. Only the owned
 * (layer, expert) weights are made ready ({@link GroupedExperts#prepare}); the others are memory-mapped but never
 * touched, so they are never paged in, and with Q8_0 never quantised.
 */
public final class ExpertShard implements RoutedExperts {
    private final GroupedExperts all;
    private final int[][] owned;     // [layer] -> expert ids ascending; null for a layer without routed experts
    private final boolean[][] owns;  // [layer][expert]

    /**
     * @param ownedPerLayer [layer] -> the experts held in that layer (null or empty for dense layers)
     */
    public ExpertShard(GroupedExperts all, int numExperts, int[][] ownedPerLayer) {
        this.all = all;
        this.owned = new int[ownedPerLayer.length][];
        this.owns = new boolean[ownedPerLayer.length][];
        for (int layer = 0; layer < ownedPerLayer.length; layer++) {
            if (ownedPerLayer[layer] == null) continue;
            owned[layer] = ownedPerLayer[layer].clone();
            Arrays.sort(owned[layer]);
            owns[layer] = new boolean[numExperts];
            for (int e : owned[layer]) {
                if (e < 0 || e >= numExperts) {
                    throw new IllegalArgumentException("expert " + e + " does not exist; the model has " + numExperts);
                }
                owns[layer][e] = true;
            }
        }
    }

    GroupedExperts experts() {
        return all;
    }

    /** The experts held in one layer, ascending (empty for a layer without routed experts). */
    public int[] ownedExperts(int layer) {
        return layer < owned.length && owned[layer] != null ? owned[layer].clone() : new int[0];
    }

    /** Every expert held in some layer, ascending. */
    public int[] ownedExperts() {
        BitSet any = new BitSet();
        for (int[] layer : owned) if (layer != null) for (int e : layer) any.set(e);
        return any.stream().toArray();
    }

    public boolean owns(int layer, int expert) {
        return layer >= 0 && layer < owns.length && owns[layer] != null && expert >= 0 && expert < owns[layer].length
                && owns[layer][expert];
    }

    /** Held in every layer that holds any expert (the all-layers view of a shard whose layers hold the same set). */
    public boolean owns(int expert) {
        boolean any = false;
        for (boolean[] layer : owns) {
            if (layer == null) continue;
            if (expert < 0 || expert >= layer.length || !layer[expert]) return false;
            any = true;
        }
        return any;
    }

    /** Bytes of the routed-expert weights this shard holds, over all layers, as they are stored to compute. */
    public long bytes() {
        long sum = 0;
        for (int layer = 0; layer < owned.length; layer++) {
            if (owned[layer] == null) continue;
            for (int e : owned[layer]) sum += all.expert(layer, e).bytes();
        }
        return sum;
    }

    /**
     * Gives back the (layer, expert) weights this shard holds that none of {@code kept} holds (see
     * {@link GroupedExperts#release}); called once no computation can reach this shard any more.
     */
    public void releaseExcept(ExpertShard... kept) {
        for (int layer = 0; layer < owned.length; layer++) {
            if (owned[layer] == null) continue;
            int l = layer;
            int[] unused = Arrays.stream(owned[layer]).filter(e -> Arrays.stream(kept).noneMatch(k -> k.owns(l, e))).toArray();
            all.release(layer, unused);
        }
    }

    /** Same as {@link GroupedExperts#apply}; every non-empty (-1) id must be owned in this layer. */
    @Override
    public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
        for (int i = 0; i < tokens * k; i++) {
            int e = experts[i];
            if (e != -1 && !owns(layer, e)) {
                throw new IllegalArgumentException("expert " + e + " (token " + i / k + ", slot " + i % k
                        + ") is not owned by this shard in layer " + layer + ", which holds " + Arrays.toString(ownedExperts(layer)));
            }
        }
        all.apply(layer, tokens, k, hidden, experts, weights, out);
    }
}
