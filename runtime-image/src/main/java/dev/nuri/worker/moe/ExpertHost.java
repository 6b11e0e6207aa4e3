package dev.nuri.worker.moe;

import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.worker.placement.ExpertPlacement;

import java.util.Arrays;
import java.util.logging.Logger;

/**
 * The routed experts this shard holds. After a placement change the previous shard stays loaded until the next
 * change, so that dispatches a peer computed against the old placement can still be answered.
 */
public final class ExpertHost {
    private static final Logger LOG = Logger.getLogger(ExpertHost.class.getName());

    private final CausalLm model;
    private final int shardIndex;
    private volatile ExpertShard current;
    private volatile ExpertShard previous;

    public ExpertHost(CausalLm model, int shardIndex, ExpertPlacement placement) {
        this.model = model;
        this.shardIndex = shardIndex;
        this.current = model.expertShard(placement.expertsOf(shardIndex));
    }

    public synchronized void reload(ExpertPlacement placement) {
        int[] wanted = placement.expertsOf(shardIndex);
        if (Arrays.equals(wanted, current.ownedExperts())) return;
        LOG.info("shard " + shardIndex + " now holds experts " + Arrays.toString(wanted));
        ExpertShard next = model.expertShard(wanted);
        previous = current;
        current = next;
    }

    /**
     * Runs the given (token, expert) pairs; token t uses {@code counts[t]} consecutive entries of experts/weights.
     * Returns one weighted partial sum per token.
     */
    public float[] compute(int layer, int tokens, int hidden, int[] counts, int[] experts, float[] weights, float[] vectors) {
        return applyVariable(holderOf(experts), layer, tokens, hidden, counts, experts, weights, vectors);
    }

    private RoutedExperts holderOf(int[] experts) {
        ExpertShard c = current;
        if (ownsAll(c, experts)) return c;
        ExpertShard p = previous;
        if (p != null && ownsAll(p, experts)) return p;
        throw new IllegalStateException("shard " + shardIndex + " holds experts " + Arrays.toString(c.ownedExperts())
                + " but was asked for " + Arrays.toString(Arrays.stream(experts).distinct().sorted().toArray())
                + "; the shards of this group disagree on the placement");
    }

    private static boolean ownsAll(ExpertShard shard, int[] experts) {
        for (int e : experts) if (e != -1 && !shard.owns(e)) return false;
        return true;
    }

    /**
     * {@link RoutedExperts#apply} takes a fixed number of slots per token; here each token uses between 1 and k of
     * this shard's experts, so the slots are padded to the largest count with -1 (an empty slot the kernel skips).
     */
    public static float[] applyVariable(RoutedExperts experts, int layer, int tokens, int hidden, int[] counts, int[] ids,
                                        float[] weights, float[] vectors) {
        float[] out = new float[tokens * hidden];
        int k = 0;
        for (int t = 0; t < tokens; t++) k = Math.max(k, counts[t]);
        if (k == 0) return out;
        if (ids.length == tokens * k) {
            experts.apply(layer, tokens, k, vectors, ids, weights, out);
            return out;
        }
        int[] paddedIds = new int[tokens * k];
        float[] paddedWeights = new float[tokens * k];
        java.util.Arrays.fill(paddedIds, -1);
        int p = 0;
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < counts[t]; j++, p++) {
                paddedIds[t * k + j] = ids[p];
                paddedWeights[t * k + j] = weights[p];
            }
        }
        experts.apply(layer, tokens, k, vectors, paddedIds, paddedWeights, out);
        return out;
    }
}
