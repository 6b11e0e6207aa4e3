package dev.nuri.operator.placement;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nuri.operator.api.v1alpha1.ExpertsSpec;
import dev.nuri.operator.api.v1alpha1.Placement;
import java.util.ArrayList;
import java.util.List;

/**
 * Which shard holds which routed experts. Without measured load every MoE layer gets the same
 * layout, written as the file's {@code default} entry (schema: runtime-image/PLACEMENT.md).
 *
 * <p>static: shard s holds a contiguous block of experts. balanced: experts are dealt round-robin,
 * which spreads neighbouring (often co-activated) experts; per-layer rebalancing from measured
 * load replaces it once the workers report load. In both, each redundant slot takes the expert
 * with the fewest copies that its shard does not already hold, lowest index first, so the result
 * is deterministic.
 */
public record ExpertPlacement(int numExperts, int[][] slots) {

    public static final int SCHEMA_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    public static ExpertPlacement of(ExpertsSpec experts) {
        int total = experts.total;
        int shards = experts.parallelism();
        int redundant = experts.redundant();
        if ((total + redundant) % shards != 0) {
            throw new IllegalArgumentException("experts.parallelism " + shards + " does not divide total + redundant = "
                    + (total + redundant));
        }
        int perShard = (total + redundant) / shards;
        boolean roundRobin = experts.placement() == Placement.BALANCED;

        List<List<Integer>> bins = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            bins.add(new ArrayList<>());
        }
        int[] copies = new int[total];
        for (int e = 0; e < total; e++) {
            // originals spread evenly first (contiguous blocks, or dealt round-robin); copies fill the rest
            int shard = roundRobin ? e % shards : (int) ((long) e * shards / total);
            bins.get(shard).add(e);
            copies[e]++;
        }
        for (int s = 0; s < shards; s++) {
            while (bins.get(s).size() < perShard) {
                int chosen = -1;
                for (int e = 0; e < total; e++) {
                    if (!bins.get(s).contains(e) && (chosen < 0 || copies[e] < copies[chosen])) {
                        chosen = e;
                    }
                }
                if (chosen < 0) {
                    throw new IllegalArgumentException("shard " + s + " has more slots than there are experts");
                }
                bins.get(s).add(chosen);
                copies[chosen]++;
            }
        }
        int[][] slots = new int[shards][];
        for (int s = 0; s < shards; s++) {
            slots[s] = bins.get(s).stream().mapToInt(Integer::intValue).toArray();
        }
        return new ExpertPlacement(total, slots);
    }

    public int shards() {
        return slots.length;
    }

    /**
     * Mean shard load / max shard load under uniform expert load, each copy carrying 1/copies of
     * its expert's tokens (REFERENCE.md §4). 1.0 means perfectly even.
     */
    public double balancedness() {
        int[] copies = new int[numExperts];
        for (int[] shard : slots) {
            for (int e : shard) {
                copies[e]++;
            }
        }
        double max = 0;
        double sum = 0;
        for (int[] shard : slots) {
            double load = 0;
            for (int e : shard) {
                load += 1.0 / copies[e];
            }
            max = Math.max(max, load);
            sum += load;
        }
        return max == 0 ? 1.0 : (sum / slots.length) / max;
    }

    /** The placement file the workers read; {@code generation} lets them tell a new file from a re-read. */
    public String toJson(long generation) {
        ObjectNode root = JSON.createObjectNode();
        root.put("schemaVersion", SCHEMA_VERSION);
        root.put("generation", generation);
        root.put("numExperts", numExperts);
        root.put("shards", slots.length);
        ArrayNode shards = root.putObject("default").putArray("shards");
        for (int[] shard : slots) {
            ArrayNode ids = shards.addArray();
            for (int e : shard) {
                ids.add(e);
            }
        }
        return root.toString();
    }
}
