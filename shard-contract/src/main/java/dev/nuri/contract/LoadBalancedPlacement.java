package dev.nuri.contract;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * A placement from measured load: DeepSeek's hierarchical expert-parallel load balancer (EPLB), per MoE layer.
 *
 * <ol>
 *   <li>Pack the router's expert groups onto the nodes of the group, heaviest group first into the least-loaded node
 *       with room (each node gets {@code groups / nodes} groups), so a token's group-limited routing stays node-local.
 *   <li>Inside each node, replicate: every redundant slot goes to the expert with the largest load per copy
 *       ({@code load / copies}).
 *   <li>Pack the node's copies onto its shards the same way, each copy carrying {@code load / copies}; a shard holds an
 *       expert at most once (the placement file forbids duplicates), so a copy skips shards that already hold it.
 * </ol>
 *
 * When the groups cannot be split evenly over the nodes (or a node would have fewer experts than a shard has slots),
 * the whole group is treated as one node with one expert group (EPLB's global policy). Ties break by lowest index, so
 * the same load gives the same placement on every run.
 */
public final class LoadBalancedPlacement {
    private LoadBalancedPlacement() {}

    /**
     * The shape the placement must fit.
     *
     * @param shards expert-parallel degree; {@code (numExperts + redundant) % shards == 0}
     * @param redundant extra slots holding copies of hot experts
     * @param expertGroups the router's {@code n_group} (1 when it has none)
     * @param nodes how many nodes the group's shards span, shards {@code [n·S/N, (n+1)·S/N)} on node n (1 when the
     *              group sits on one node)
     */
    public record Shape(int numExperts, int shards, int redundant, int expertGroups, int nodes) {
        public Shape {
            if (numExperts <= 0 || shards <= 0 || redundant < 0 || expertGroups <= 0 || nodes <= 0) {
                throw new IllegalArgumentException("experts, shards, groups and nodes must be positive, redundant at least 0");
            }
            if ((numExperts + redundant) % shards != 0) {
                throw new IllegalArgumentException("shards " + shards + " do not divide experts + redundant = " + (numExperts + redundant));
            }
            if ((numExperts + redundant) / shards > numExperts) {
                throw new IllegalArgumentException("a shard would have more slots than there are experts");
            }
        }

        public int slotsPerShard() {
            return (numExperts + redundant) / shards;
        }
    }

    /**
     * A placement file with one entry per layer of {@code load}.
     *
     * @param load per MoE layer, tokens (or any non-negative weight) routed to each expert
     */
    public static PlacementFile plan(Map<Integer, double[]> load, Shape shape, long generation) {
        if (load.isEmpty()) throw new IllegalArgumentException("no layer load to place");
        Map<Integer, int[][]> layers = new TreeMap<>();
        load.forEach((layer, w) -> layers.put(layer, layer(w, shape)));
        return new PlacementFile(generation, shape.numExperts(), shape.shards(), null, layers);
    }

    /** One layer's slots, [shard][slot] → expert. */
    public static int[][] layer(double[] load, Shape shape) {
        int e = shape.numExperts();
        if (load.length != e) throw new IllegalArgumentException("load lists " + load.length + " experts, the model has " + e);
        for (double w : load) {
            if (!(w >= 0) || Double.isInfinite(w)) throw new IllegalArgumentException("expert load must be finite and non-negative");
        }
        int groups = shape.expertGroups(), nodes = shape.nodes();
        boolean hierarchical = e % groups == 0 && groups % nodes == 0 && shape.shards() % nodes == 0
                && e / nodes >= shape.slotsPerShard();
        if (!hierarchical) {
            groups = 1;
            nodes = 1;
        }
        int groupSize = e / groups;
        int shardsPerNode = shape.shards() / nodes;
        int slotsPerNode = shape.slotsPerShard() * shardsPerNode;

        // 1. expert groups onto nodes
        double[] groupLoad = new double[groups];
        for (int x = 0; x < e; x++) groupLoad[x / groupSize] += load[x];
        int[][] groupsOfNode = pack(groupLoad, null, nodes, groups / nodes);

        int[][] slots = new int[shape.shards()][];
        for (int n = 0; n < nodes; n++) {
            int[] experts = Arrays.stream(groupsOfNode[n]).flatMap(g -> IntStream.range(g * groupSize, (g + 1) * groupSize)).toArray();
            // 2. replicate the node's hottest experts into its spare slots, at most one copy per shard
            int[] copies = new int[experts.length];
            Arrays.fill(copies, 1);
            for (int extra = experts.length; extra < slotsPerNode; extra++) {
                int best = -1;
                for (int i = 0; i < experts.length; i++) {
                    if (copies[i] >= shardsPerNode) continue;
                    if (best < 0 || load[experts[i]] / copies[i] > load[experts[best]] / copies[best]) best = i;
                }
                copies[best]++; // there is always room: experts.length ≥ slots per shard
            }
            int[] replicaExpert = new int[slotsPerNode];
            double[] replicaLoad = new double[slotsPerNode];
            int r = 0;
            for (int i = 0; i < experts.length; i++) {
                for (int c = 0; c < copies[i]; c++, r++) {
                    replicaExpert[r] = experts[i];
                    replicaLoad[r] = load[experts[i]] / copies[i];
                }
            }
            // 3. copies onto the node's shards
            int[][] packs = pack(replicaLoad, replicaExpert, shardsPerNode, shape.slotsPerShard());
            for (int s = 0; s < shardsPerNode; s++) {
                slots[n * shardsPerNode + s] = Arrays.stream(packs[s]).map(i -> replicaExpert[i]).toArray();
            }
        }
        return slots;
    }

    /**
     * Balanced packing: items heaviest first, each into the least-loaded pack that has room (and, with
     * {@code kind}, holds no item of the same kind). Returns the item indices of each pack.
     */
    private static int[][] pack(double[] weight, int[] kind, int packs, int perPack) {
        Integer[] order = IntStream.range(0, weight.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -weight[i])); // stable: ties keep index order
        List<List<Integer>> content = new ArrayList<>();
        for (int p = 0; p < packs; p++) content.add(new ArrayList<>());
        double[] packLoad = new double[packs];
        for (int item : order) {
            int chosen = -1;
            for (int p = 0; p < packs; p++) {
                if (content.get(p).size() >= perPack || holdsKind(content.get(p), kind, item)) continue;
                if (chosen < 0 || packLoad[p] < packLoad[chosen]) chosen = p;
            }
            if (chosen < 0) chosen = makeRoom(content, packLoad, weight, kind, item, perPack);
            content.get(chosen).add(item);
            packLoad[chosen] += weight[item];
        }
        return content.stream().map(c -> c.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
    }

    private static boolean holdsKind(List<Integer> pack, int[] kind, int item) {
        if (kind == null) return false;
        for (int other : pack) if (kind[other] == kind[item]) return true;
        return false;
    }

    /**
     * Every pack with room already holds this item's expert: move one item of a full pack without that expert into a
     * pack with room (one that lacks it), and put the item where it was. A full pack has more items than a pack with
     * room, so it holds one the other lacks; and there are never more copies of an expert than packs.
     */
    private static int makeRoom(List<List<Integer>> content, double[] packLoad, double[] weight, int[] kind, int item, int perPack) {
        int roomy = -1;
        for (int p = 0; p < content.size(); p++) if (content.get(p).size() < perPack && (roomy < 0 || packLoad[p] < packLoad[roomy])) roomy = p;
        for (int full = 0; full < content.size(); full++) {
            List<Integer> from = content.get(full);
            if (holdsKind(from, kind, item)) continue;
            for (int i = 0; i < from.size(); i++) {
                int moved = from.get(i);
                if (holdsKind(content.get(roomy), kind, moved)) continue;
                from.remove(i);
                packLoad[full] -= weight[moved];
                content.get(roomy).add(moved);
                packLoad[roomy] += weight[moved];
                return full;
            }
        }
        throw new IllegalStateException("no shard can take a copy of expert " + kind[item]);
    }

    /**
     * Mean shard load over the largest, for one layer's slots under a measured load, each copy carrying
     * {@code load / copies} (DeepSeek's measure); 1.0 is perfectly even, and a layer without load counts as even.
     */
    public static double balancedness(int[][] slots, double[] load) {
        double[] perShard = shardLoad(slots, load);
        double max = 0, sum = 0;
        for (double l : perShard) {
            max = Math.max(max, l);
            sum += l;
        }
        return max == 0 ? 1.0 : sum / perShard.length / max;
    }

    /** Each shard's share of a layer's load, each copy carrying {@code load / copies}. */
    public static double[] shardLoad(int[][] slots, double[] load) {
        int[] copies = new int[load.length];
        for (int[] shard : slots) for (int x : shard) copies[x]++;
        double[] perShard = new double[slots.length];
        for (int s = 0; s < slots.length; s++) for (int x : slots[s]) perShard[s] += load[x] / copies[x];
        return perShard;
    }

    /** Balancedness of each layer of {@code load} under {@code placement}. */
    public static Map<Integer, Double> balancedness(PlacementFile placement, Map<Integer, double[]> load) {
        Map<Integer, Double> out = new TreeMap<>();
        load.forEach((layer, w) -> out.put(layer, balancedness(placement.slots(layer), w)));
        return out;
    }

    /** The mean over layers of {@link #balancedness(PlacementFile, Map)}: the one figure status and metrics report. */
    public static double meanBalancedness(PlacementFile placement, Map<Integer, double[]> load) {
        return balancedness(placement, load).values().stream().mapToDouble(Double::doubleValue).average().orElse(1.0);
    }
}
