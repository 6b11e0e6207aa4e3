package dev.nuri.contract;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How routed experts are laid out over the shards of a group when no measured load says otherwise. The operator
 * writes the result as the placement file's {@code default}; a shard started without a placement file uses
 * {@link #STATIC}.
 *
 * <p>In both, each redundant slot takes the expert with the fewest copies that its shard does not already hold, lowest
 * index first, so the result is deterministic.
 */
public enum PlacementStrategy {
    /** Shard s holds a contiguous block of experts. */
    STATIC,
    /** Experts are dealt round-robin, which spreads neighbouring (often co-activated) experts. */
    BALANCED;

    /**
     * @throws IllegalArgumentException shards does not divide experts + redundant
     */
    public PlacementFile layout(int numExperts, int shards, int redundant, long generation) {
        if ((numExperts + redundant) % shards != 0) {
            throw new IllegalArgumentException("experts.parallelism " + shards + " does not divide total + redundant = "
                    + (numExperts + redundant));
        }
        int perShard = (numExperts + redundant) / shards;
        List<List<Integer>> bins = new ArrayList<>();
        for (int s = 0; s < shards; s++) bins.add(new ArrayList<>());
        int[] copies = new int[numExperts];
        for (int e = 0; e < numExperts; e++) {
            // originals spread evenly first (contiguous blocks, or dealt round-robin); copies fill the rest
            int shard = this == BALANCED ? e % shards : (int) ((long) e * shards / numExperts);
            bins.get(shard).add(e);
            copies[e]++;
        }
        for (int s = 0; s < shards; s++) {
            while (bins.get(s).size() < perShard) {
                int chosen = -1;
                for (int e = 0; e < numExperts; e++) {
                    if (!bins.get(s).contains(e) && (chosen < 0 || copies[e] < copies[chosen])) chosen = e;
                }
                if (chosen < 0) throw new IllegalArgumentException("shard " + s + " has more slots than there are experts");
                bins.get(s).add(chosen);
                copies[chosen]++;
            }
        }
        int[][] slots = new int[shards][];
        for (int s = 0; s < shards; s++) slots[s] = bins.get(s).stream().mapToInt(Integer::intValue).toArray();
        return new PlacementFile(generation, numExperts, shards, slots, Map.of());
    }
}
