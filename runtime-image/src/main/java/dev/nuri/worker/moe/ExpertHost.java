package dev.nuri.worker.moe;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PlacementFile;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.worker.transport.PeerExperts;

import java.util.Arrays;
import java.util.logging.Logger;

/**
 * The routed experts this shard holds. After a placement change the previous shard stays loaded until the next
 * change, so that dispatches a peer computed against the old placement can still be answered.
 */
public final class ExpertHost implements PeerExperts {
    private static final Logger LOG = Logger.getLogger(ExpertHost.class.getName());

    private final CausalLm model;
    private final int shardIndex;
    private volatile ExpertShard current;
    private volatile ExpertShard previous;

    public ExpertHost(CausalLm model, int shardIndex, PlacementFile placement) {
        this.model = model;
        this.shardIndex = shardIndex;
        this.current = model.expertShard(placement.expertsOf(shardIndex));
    }

    public synchronized void reload(PlacementFile placement) {
        int[] wanted = placement.expertsOf(shardIndex);
        if (Arrays.equals(wanted, current.ownedExperts())) return;
        LOG.info("shard " + shardIndex + " now holds experts " + Arrays.toString(wanted));
        ExpertShard next = model.expertShard(wanted);
        previous = current;
        current = next;
    }

    /**
     * Adds Σ weight · expert(hidden) over each token's k slots into out; a slot of -1 (an expert held elsewhere) is
     * skipped, so the router's slots are used as they are.
     */
    public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
        holderOf(experts).apply(layer, tokens, k, hidden, experts, weights, out);
    }

    /** A peer's dispatch: its slots go to the grouped expert product as they came off the wire. */
    @Override
    public float[] compute(Frame.Dispatch d) {
        float[] partial = new float[d.tokens() * d.hidden()];
        apply(d.layer(), d.tokens(), d.k(), d.vectors(), d.experts(), d.weights(), partial);
        return partial;
    }

    private ExpertShard holderOf(int[] experts) {
        ExpertShard c = current;
        if (ownsAll(c, experts)) return c;
        ExpertShard p = previous;
        if (p != null && ownsAll(p, experts)) return p;
        throw new IllegalStateException("shard " + shardIndex + " holds experts " + Arrays.toString(c.ownedExperts())
                + " but was asked for " + Arrays.toString(Arrays.stream(experts).filter(e -> e != -1).distinct().sorted().toArray())
                + "; the shards of this group disagree on the placement");
    }

    private static boolean ownsAll(ExpertShard shard, int[] experts) {
        for (int e : experts) if (e != -1 && !shard.owns(e)) return false;
        return true;
    }
}
