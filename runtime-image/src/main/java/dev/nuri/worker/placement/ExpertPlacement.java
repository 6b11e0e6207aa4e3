package dev.nuri.worker.placement;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which shard holds which routed experts, per MoE layer. The JSON schema is documented in
 * runtime-image/PLACEMENT.md; the operator writes the same schema into the {@code <name>-placement} ConfigMap.
 *
 * <p>A layer's entry lists, for each shard, the expert ids in its slots. An expert listed on several shards is a
 * redundant copy; the dispatcher spreads tokens over the copies by token position.
 */
public final class ExpertPlacement {
    public static final int SCHEMA_VERSION = 1;

    private final long generation;
    private final int numExperts;
    private final int shards;
    private final int[][] defaultSlots;          // [shard][slot] -> expert, or null
    private final Map<Integer, int[][]> layerSlots;
    private final Map<Integer, int[][]> ownersCache = new HashMap<>();
    private final int[][] defaultOwners;

    private ExpertPlacement(long generation, int numExperts, int shards, int[][] defaultSlots, Map<Integer, int[][]> layerSlots) {
        this.generation = generation;
        this.numExperts = numExperts;
        this.shards = shards;
        this.defaultSlots = defaultSlots;
        this.layerSlots = layerSlots;
        this.defaultOwners = defaultSlots == null ? null : owners(defaultSlots);
        layerSlots.forEach((layer, slots) -> ownersCache.put(layer, owners(slots)));
    }

    /** Expert e on shard e mod S: the static placement used when no file is given. */
    public static ExpertPlacement roundRobin(int numExperts, int shards) {
        int[][] slots = new int[shards][];
        for (int s = 0; s < shards; s++) {
            int shard = s;
            slots[s] = java.util.stream.IntStream.range(0, numExperts).filter(e -> e % shards == shard).toArray();
        }
        return new ExpertPlacement(0, numExperts, shards, slots, Map.of());
    }

    public static ExpertPlacement parse(String json) {
        JsonObject root;
        try {
            root = new JsonObject(json);
        } catch (DecodeException e) {
            throw new InvalidPlacementException("placement file is not valid JSON: " + e.getMessage());
        }
        int schema = intField(root, "schemaVersion");
        if (schema != SCHEMA_VERSION) {
            throw new InvalidPlacementException("placement schemaVersion " + schema + " is not supported (expected " + SCHEMA_VERSION + ")");
        }
        int numExperts = intField(root, "numExperts");
        int shards = intField(root, "shards");
        long generation = root.getValue("generation") instanceof Number n ? n.longValue() : 0;
        if (numExperts <= 0 || shards <= 0) {
            throw new InvalidPlacementException("numExperts and shards must be positive");
        }
        int[][] defaults = root.containsKey("default")
                ? slots(root.getJsonObject("default"), "default", numExperts, shards) : null;
        Map<Integer, int[][]> layers = new TreeMap<>();
        JsonArray layerArray = root.getJsonArray("layers", new JsonArray());
        for (int i = 0; i < layerArray.size(); i++) {
            JsonObject entry = layerArray.getJsonObject(i);
            int layer = intField(entry, "layer");
            if (layers.put(layer, slots(entry, "layers[" + i + "]", numExperts, shards)) != null) {
                throw new InvalidPlacementException("layer " + layer + " is listed twice");
            }
        }
        if (defaults == null && layers.isEmpty()) {
            throw new InvalidPlacementException("placement has neither \"default\" nor \"layers\"");
        }
        return new ExpertPlacement(generation, numExperts, shards, defaults, layers);
    }

    private static int[][] slots(JsonObject entry, String where, int numExperts, int shards) {
        JsonArray perShard = entry.getJsonArray("shards");
        if (perShard == null || perShard.size() != shards) {
            throw new InvalidPlacementException(where + ".shards must list exactly " + shards + " shards");
        }
        int[][] slots = new int[shards][];
        BitSet covered = new BitSet(numExperts);
        for (int s = 0; s < shards; s++) {
            JsonArray ids = perShard.getJsonArray(s);
            slots[s] = new int[ids.size()];
            BitSet seen = new BitSet(numExperts);
            for (int j = 0; j < ids.size(); j++) {
                int e = ids.getInteger(j);
                if (e < 0 || e >= numExperts) {
                    throw new InvalidPlacementException(where + ": expert " + e + " on shard " + s + " is outside 0.." + (numExperts - 1));
                }
                if (seen.get(e)) {
                    throw new InvalidPlacementException(where + ": expert " + e + " appears twice on shard " + s);
                }
                seen.set(e);
                covered.set(e);
                slots[s][j] = e;
            }
        }
        if (covered.cardinality() != numExperts) {
            throw new InvalidPlacementException(where + ": expert " + covered.nextClearBit(0) + " is on no shard");
        }
        return slots;
    }

    private static int intField(JsonObject o, String name) {
        if (!(o.getValue(name) instanceof Number n)) {
            throw new InvalidPlacementException("placement field \"" + name + "\" must be an integer");
        }
        return n.intValue();
    }

    private int[][] owners(int[][] slots) {
        int[][] owners = new int[numExperts][];
        int[] count = new int[numExperts];
        for (int[] shardSlots : slots) {
            for (int e : shardSlots) count[e]++;
        }
        for (int e = 0; e < numExperts; e++) owners[e] = new int[count[e]];
        Arrays.fill(count, 0);
        for (int s = 0; s < slots.length; s++) {
            for (int e : slots[s]) owners[e][count[e]++] = s;
        }
        return owners;
    }

    public long generation() { return generation; }

    public int numExperts() { return numExperts; }

    public int shards() { return shards; }

    /** For each expert of this layer, the shards holding a copy, ascending. */
    public int[][] owners(int layer) {
        int[][] o = ownersCache.get(layer);
        if (o != null) return o;
        if (defaultOwners == null) {
            throw new InvalidPlacementException("placement lists no entry for MoE layer " + layer + " and has no default");
        }
        return defaultOwners;
    }

    /** Every expert id this shard holds in any layer. */
    public int[] expertsOf(int shard) {
        BitSet held = new BitSet(numExperts);
        if (defaultSlots != null) for (int e : defaultSlots[shard]) held.set(e);
        for (int[][] slots : layerSlots.values()) for (int e : slots[shard]) held.set(e);
        return held.stream().toArray();
    }

    public JsonObject toJson() {
        JsonObject root = new JsonObject().put("schemaVersion", SCHEMA_VERSION).put("generation", generation)
                .put("numExperts", numExperts).put("shards", shards);
        if (defaultSlots != null) root.put("default", new JsonObject().put("shards", toArray(defaultSlots)));
        JsonArray layers = new JsonArray();
        layerSlots.forEach((layer, slots) -> layers.add(new JsonObject().put("layer", layer).put("shards", toArray(slots))));
        if (!layers.isEmpty()) root.put("layers", layers);
        return root;
    }

    private static JsonArray toArray(int[][] slots) {
        JsonArray a = new JsonArray();
        for (int[] s : slots) {
            JsonArray ids = new JsonArray();
            for (int e : s) ids.add(e);
            a.add(ids);
        }
        return a;
    }
}
