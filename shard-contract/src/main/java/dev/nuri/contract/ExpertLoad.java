package dev.nuri.contract;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What {@code GET /v1/internal/expert-load} answers: the tokens one shard routed to each (layer, expert) in its sliding
 * window, and where they went (token-expert pairs per shard). Each shard counts the tokens of the requests it took (the
 * home shard routes them), so the group's load is the {@link #sum} over its shards.
 *
 * <pre>
 * {"shard": 0, "generation": 7, "windowSeconds": 60,
 *  "layers": [{"layer": 1, "experts": [t0, t1, ...], "shards": [p0, p1, ...]}]}
 * </pre>
 *
 * @param experts per MoE layer, tokens routed to each expert
 * @param shardPairs per MoE layer, (token, expert) pairs each shard computed (the realized load)
 */
public record ExpertLoad(int shard, long generation, int windowSeconds, SortedMap<Integer, long[]> experts,
                         SortedMap<Integer, long[]> shardPairs) {

    /** The group's load: every shard's counts added (shard -1, the lowest generation seen). */
    public static ExpertLoad sum(List<ExpertLoad> shards) {
        if (shards.isEmpty()) throw new IllegalArgumentException("no shard load to add");
        SortedMap<Integer, long[]> experts = new TreeMap<>(), pairs = new TreeMap<>();
        long generation = Long.MAX_VALUE;
        for (ExpertLoad l : shards) {
            generation = Math.min(generation, l.generation());
            add(experts, l.experts());
            add(pairs, l.shardPairs());
        }
        return new ExpertLoad(-1, generation, shards.getFirst().windowSeconds(), experts, pairs);
    }

    private static void add(SortedMap<Integer, long[]> into, SortedMap<Integer, long[]> from) {
        from.forEach((layer, counts) -> {
            long[] sum = into.computeIfAbsent(layer, l -> new long[counts.length]);
            if (sum.length != counts.length) throw new IllegalArgumentException("layer " + layer + " counts differ in length between shards");
            for (int i = 0; i < counts.length; i++) sum[i] += counts[i];
        });
    }

    /** Per layer, the expert counts as weights for {@link LoadBalancedPlacement}. */
    public Map<Integer, double[]> expertWeights() {
        Map<Integer, double[]> out = new TreeMap<>();
        experts.forEach((layer, counts) -> out.put(layer, Arrays.stream(counts).asDoubleStream().toArray()));
        return out;
    }

    /** Tokens routed in the window, over every layer. */
    public long total() {
        return experts.values().stream().flatMapToLong(Arrays::stream).sum();
    }

    /** Mean over max of the realized (token, expert) pairs per shard, averaged over the layers that saw any. */
    public double realizedBalancedness() {
        double sum = 0;
        int layers = 0;
        for (long[] perShard : shardPairs.values()) {
            long max = Arrays.stream(perShard).max().orElse(0);
            if (max == 0) continue;
            sum += (double) Arrays.stream(perShard).sum() / perShard.length / max;
            layers++;
        }
        return layers == 0 ? 1.0 : sum / layers;
    }

    public String toJson() {
        StringBuilder b = new StringBuilder().append("{\"shard\":").append(shard).append(",\"generation\":").append(generation)
                .append(",\"windowSeconds\":").append(windowSeconds).append(",\"layers\":[");
        String sep = "";
        for (int layer : experts.keySet()) {
            b.append(sep).append("{\"layer\":").append(layer).append(",\"experts\":");
            append(b, experts.get(layer)).append(",\"shards\":");
            append(b, shardPairs.getOrDefault(layer, new long[0])).append('}');
            sep = ",";
        }
        return b.append("]}").toString();
    }

    private static StringBuilder append(StringBuilder b, long[] v) {
        b.append('[');
        for (int i = 0; i < v.length; i++) b.append(i > 0 ? "," : "").append(v[i]);
        return b.append(']');
    }

    /** @throws IllegalArgumentException not the shape {@link #toJson} writes */
    public static ExpertLoad parse(String json) {
        if (!(Json.parse(json) instanceof Map<?, ?> root)) throw new IllegalArgumentException("expert load must be a JSON object");
        SortedMap<Integer, long[]> experts = new TreeMap<>(), pairs = new TreeMap<>();
        if (!(root.get("layers") instanceof List<?> layers)) throw new IllegalArgumentException("expert load needs \"layers\"");
        for (Object o : layers) {
            if (!(o instanceof Map<?, ?> entry)) throw new IllegalArgumentException("each layer must be an object");
            int layer = (int) number(entry, "layer");
            experts.put(layer, counts(entry.get("experts")));
            pairs.put(layer, counts(entry.get("shards")));
        }
        return new ExpertLoad((int) number(root, "shard"), number(root, "generation"), (int) number(root, "windowSeconds"), experts, pairs);
    }

    private static long number(Map<?, ?> o, String name) {
        if (!(o.get(name) instanceof Long n)) throw new IllegalArgumentException("expert load field \"" + name + "\" must be an integer");
        return n;
    }

    private static long[] counts(Object list) {
        if (!(list instanceof List<?> l)) throw new IllegalArgumentException("counts must be an array");
        return l.stream().mapToLong(x -> {
            if (!(x instanceof Long n) || n < 0) throw new IllegalArgumentException("counts must be non-negative integers");
            return n;
        }).toArray();
    }
}
