package dev.nuri.contract;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Which shard holds which routed experts, per MoE layer: the file the operator writes into the {@code <name>-placement}
 * ConfigMap and each shard reads from {@code NURI_PLACEMENT_FILE} (fields: runtime-image/PLACEMENT.md).
 *
 * <p>A layer's entry lists, for each shard, the expert ids in its slots; layers without an entry use {@code default}.
 * An expert listed on several shards is a redundant copy; the dispatcher spreads tokens over the copies by position.
 */
public final class PlacementFile {
    public static final int SCHEMA_VERSION = 1;

    private final long generation;
    private final int numExperts;
    private final int shards;
    private final int[][] defaultSlots;           // [shard][slot] -> expert, or null
    private final SortedMap<Integer, int[][]> layerSlots;
    private final int[][] defaultOwners;
    private final Map<Integer, int[][]> layerOwners = new HashMap<>();

    /**
     * @param defaultSlots the layout of every layer not in {@code layerSlots}; null when every MoE layer is listed
     * @throws InvalidPlacementException an id out of range, twice on one shard, an expert on no shard, a wrong shard count
     */
    public PlacementFile(long generation, int numExperts, int shards, int[][] defaultSlots, Map<Integer, int[][]> layerSlots) {
        if (numExperts <= 0 || shards <= 0) throw new InvalidPlacementException("numExperts and shards must be positive");
        if (defaultSlots == null && layerSlots.isEmpty()) {
            throw new InvalidPlacementException("placement has neither \"default\" nor \"layers\"");
        }
        this.generation = generation;
        this.numExperts = numExperts;
        this.shards = shards;
        this.defaultSlots = defaultSlots == null ? null : check(defaultSlots, "default");
        TreeMap<Integer, int[][]> layers = new TreeMap<>();
        layerSlots.forEach((layer, slots) -> layers.put(layer, check(slots, "layer " + layer)));
        this.layerSlots = Collections.unmodifiableSortedMap(layers);
        this.defaultOwners = this.defaultSlots == null ? null : owners(this.defaultSlots);
        this.layerSlots.forEach((layer, slots) -> layerOwners.put(layer, owners(slots)));
    }

    private int[][] check(int[][] slots, String where) {
        if (slots.length != shards) throw new InvalidPlacementException(where + ".shards must list exactly " + shards + " shards");
        int[][] copy = new int[shards][];
        BitSet covered = new BitSet(numExperts);
        for (int s = 0; s < shards; s++) {
            BitSet seen = new BitSet(numExperts);
            for (int e : slots[s]) {
                if (e < 0 || e >= numExperts) {
                    throw new InvalidPlacementException(where + ": expert " + e + " on shard " + s + " is outside 0.." + (numExperts - 1));
                }
                if (seen.get(e)) throw new InvalidPlacementException(where + ": expert " + e + " appears twice on shard " + s);
                seen.set(e);
            }
            covered.or(seen);
            copy[s] = slots[s].clone();
        }
        if (covered.cardinality() != numExperts) {
            throw new InvalidPlacementException(where + ": expert " + covered.nextClearBit(0) + " is on no shard");
        }
        return copy;
    }

    private int[][] owners(int[][] slots) {
        int[] count = new int[numExperts];
        for (int[] shardSlots : slots) for (int e : shardSlots) count[e]++;
        int[][] owners = new int[numExperts][];
        for (int e = 0; e < numExperts; e++) owners[e] = new int[count[e]];
        Arrays.fill(count, 0);
        for (int s = 0; s < slots.length; s++) for (int e : slots[s]) owners[e][count[e]++] = s;
        return owners;
    }

    public long generation() { return generation; }

    public int numExperts() { return numExperts; }

    public int shards() { return shards; }

    /** The default layout, [shard][slot] -> expert; null when every layer has its own entry. */
    public int[][] defaultSlots() {
        return defaultSlots == null ? null : Arrays.stream(defaultSlots).map(int[]::clone).toArray(int[][]::new);
    }

    /** Layers with their own entry. */
    public SortedMap<Integer, int[][]> layerSlots() {
        return layerSlots;
    }

    /**
     * For each expert of this layer, the shards holding a copy, ascending. Shared, not copied: do not modify.
     *
     * @throws InvalidPlacementException the layer has no entry and there is no default
     */
    public int[][] owners(int layer) {
        int[][] o = layerOwners.get(layer);
        if (o != null) return o;
        if (defaultOwners == null) {
            throw new InvalidPlacementException("placement lists no entry for MoE layer " + layer + " and has no default");
        }
        return defaultOwners;
    }

    /**
     * A layer's slots, [shard][slot] -> expert (its own entry, else the default). A copy.
     *
     * @throws InvalidPlacementException the layer has no entry and there is no default
     */
    public int[][] slots(int layer) {
        int[][] s = layerSlots.get(layer);
        if (s == null) s = defaultSlots;
        if (s == null) throw new InvalidPlacementException("placement lists no entry for MoE layer " + layer + " and has no default");
        return Arrays.stream(s).map(int[]::clone).toArray(int[][]::new);
    }

    /** The experts this shard holds in one layer, ascending. */
    public int[] expertsOf(int shard, int layer) {
        return Arrays.stream(slots(layer)[shard]).sorted().toArray();
    }

    /** Every expert id this shard holds in any layer. */
    public int[] expertsOf(int shard) {
        BitSet held = new BitSet(numExperts);
        if (defaultSlots != null) for (int e : defaultSlots[shard]) held.set(e);
        for (int[][] slots : layerSlots.values()) for (int e : slots[shard]) held.set(e);
        return held.stream().toArray();
    }

    /**
     * Checks the file against the model and the group a shard runs.
     *
     * @throws InvalidPlacementException the file is for another model or group size, or leaves a MoE layer unplaced
     */
    public PlacementFile validateFor(int modelExperts, int groupShards, int[] moeLayers) {
        if (numExperts != modelExperts) {
            throw new InvalidPlacementException("placement is for " + numExperts + " experts, the model has " + modelExperts);
        }
        if (shards != groupShards) {
            throw new InvalidPlacementException("placement is for " + shards + " shards, this group has " + groupShards);
        }
        for (int layer : moeLayers) owners(layer);
        return this;
    }

    /**
     * Mean shard load / max shard load of the default layout under uniform expert load, each copy carrying 1/copies of
     * its expert's tokens (DeepSeek's EPLB measure). 1.0 means perfectly even.
     */
    public double balancedness() {
        int[][] slots = defaultSlots != null ? defaultSlots : layerSlots.get(layerSlots.firstKey());
        int[] copies = new int[numExperts];
        for (int[] shard : slots) for (int e : shard) copies[e]++;
        double max = 0;
        double sum = 0;
        for (int[] shard : slots) {
            double load = 0;
            for (int e : shard) load += 1.0 / copies[e];
            max = Math.max(max, load);
            sum += load;
        }
        return max == 0 ? 1.0 : (sum / slots.length) / max;
    }

    /** The file's text. */
    public String toJson() {
        StringBuilder b = new StringBuilder().append("{\"schemaVersion\":").append(SCHEMA_VERSION)
                .append(",\"generation\":").append(generation).append(",\"numExperts\":").append(numExperts)
                .append(",\"shards\":").append(shards);
        if (defaultSlots != null) appendSlots(b.append(",\"default\":{\"shards\":"), defaultSlots).append('}');
        if (!layerSlots.isEmpty()) {
            b.append(",\"layers\":[");
            String sep = "";
            for (var entry : layerSlots.entrySet()) {
                b.append(sep).append("{\"layer\":").append(entry.getKey()).append(",\"shards\":");
                appendSlots(b, entry.getValue()).append('}');
                sep = ",";
            }
            b.append(']');
        }
        return b.append('}').toString();
    }

    private static StringBuilder appendSlots(StringBuilder b, int[][] slots) {
        b.append('[');
        for (int s = 0; s < slots.length; s++) {
            if (s > 0) b.append(',');
            b.append('[');
            for (int j = 0; j < slots[s].length; j++) b.append(j > 0 ? "," : "").append(slots[s][j]);
            b.append(']');
        }
        return b.append(']');
    }

    /** @throws InvalidPlacementException not JSON, another schema version, or a rule of the format broken */
    public static PlacementFile parse(String json) {
        Object parsed;
        try {
            parsed = Json.parse(json);
        } catch (IllegalArgumentException e) {
            throw new InvalidPlacementException("placement file is not valid JSON: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> root)) throw new InvalidPlacementException("placement file must be a JSON object");
        int schema = intField(root, "schemaVersion", "");
        if (schema != SCHEMA_VERSION) {
            throw new InvalidPlacementException("placement schemaVersion " + schema + " is not supported (expected " + SCHEMA_VERSION + ")");
        }
        int numExperts = intField(root, "numExperts", "");
        int shards = intField(root, "shards", "");
        long generation = root.get("generation") instanceof Long n ? n : 0;
        int[][] defaults = null;
        if (root.get("default") != null) {
            if (!(root.get("default") instanceof Map<?, ?> d)) throw new InvalidPlacementException("\"default\" must be an object");
            defaults = slots(d, "default");
        }
        Map<Integer, int[][]> layers = new TreeMap<>();
        Object layerList = root.get("layers");
        if (layerList != null) {
            if (!(layerList instanceof List<?> list)) throw new InvalidPlacementException("\"layers\" must be an array");
            for (int i = 0; i < list.size(); i++) {
                if (!(list.get(i) instanceof Map<?, ?> entry)) throw new InvalidPlacementException("layers[" + i + "] must be an object");
                int layer = intField(entry, "layer", "layers[" + i + "].");
                if (layers.put(layer, slots(entry, "layers[" + i + "]")) != null) {
                    throw new InvalidPlacementException("layer " + layer + " is listed twice");
                }
            }
        }
        return new PlacementFile(generation, numExperts, shards, defaults, layers);
    }

    private static int[][] slots(Map<?, ?> entry, String where) {
        if (!(entry.get("shards") instanceof List<?> perShard)) throw new InvalidPlacementException(where + ".shards must be an array");
        int[][] slots = new int[perShard.size()][];
        for (int s = 0; s < slots.length; s++) {
            if (!(perShard.get(s) instanceof List<?> ids)) throw new InvalidPlacementException(where + ".shards[" + s + "] must be an array");
            slots[s] = new int[ids.size()];
            for (int j = 0; j < ids.size(); j++) {
                if (!(ids.get(j) instanceof Long id) || id != id.intValue()) {
                    throw new InvalidPlacementException(where + ".shards[" + s + "][" + j + "] must be an integer expert id");
                }
                slots[s][j] = id.intValue();
            }
        }
        return slots;
    }

    private static int intField(Map<?, ?> o, String name, String prefix) {
        if (!(o.get(name) instanceof Long n) || n != n.intValue()) {
            throw new InvalidPlacementException("placement field \"" + prefix + name + "\" must be an integer");
        }
        return n.intValue();
    }
}
