package dev.nuri.worker.moe;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PlacementFile;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.worker.transport.PeerExperts;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The routed experts this shard holds, per MoE layer and per placement generation. A switch to a new placement runs in
 * three steps across the group: every shard loads the new experts beside the old ones ({@link #prepare}), every shard
 * routes its next steps with the new generation ({@link #commit}), and once all have, the experts only the old placement
 * held are given back ({@link #release}). Until then a peer's dispatch is computed with the experts of the generation it
 * carries, so a step routed with the old placement is still answered.
 */
public final class ExpertHost implements PeerExperts {
    private static final Logger LOG = Logger.getLogger(ExpertHost.class.getName());

    /** One placement and the experts it gives this shard. */
    public record Held(PlacementFile placement, ExpertShard experts) {}

    private final CausalLm model;
    private final int shardIndex;
    private final Map<Long, Held> held = new ConcurrentHashMap<>();
    private volatile Held active;

    public ExpertHost(CausalLm model, int shardIndex, PlacementFile placement) {
        this.model = model;
        this.shardIndex = shardIndex;
        this.active = load(placement);
        held.put(placement.generation(), active);
    }

    private Held load(PlacementFile placement) {
        int[][] perLayer = new int[model.config().numLayers()][];
        for (int layer : model.config().moeLayers()) perLayer[layer] = placement.expertsOf(shardIndex, layer);
        return new Held(placement, model.expertShard(perLayer));
    }

    /** The placement this shard routes its steps with, and its experts. */
    public Held active() {
        return active;
    }

    /** Generations loaded here, the active one included. */
    public long[] generations() {
        return held.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
    }

    /**
     * Phase 1: loads the experts {@code next} gives this shard beside those in use. Preparing a generation already
     * loaded with the same layout does nothing.
     *
     * @throws IllegalArgumentException the generation is not newer than the active one, or is loaded with another layout
     */
    public synchronized void prepare(PlacementFile next) {
        Held same = held.get(next.generation());
        if (same != null) {
            if (same.placement().toJson().equals(next.toJson())) return;
            throw new IllegalArgumentException("placement generation " + next.generation() + " is already loaded with another layout");
        }
        if (next.generation() <= active.placement().generation()) {
            throw new IllegalArgumentException("placement generation " + next.generation() + " is not newer than the one in force ("
                    + active.placement().generation() + ")");
        }
        held.put(next.generation(), load(next));
        LOG.info("shard " + shardIndex + ": placement generation " + next.generation() + " loaded beside " + active.placement().generation());
    }

    /**
     * Phase 2: the steps this shard routes from now on use this generation.
     *
     * @throws IllegalArgumentException the generation was not prepared here
     */
    public synchronized void commit(long generation) {
        Held next = held.get(generation);
        if (next == null) throw new IllegalArgumentException("placement generation " + generation + " was not prepared on shard " + shardIndex);
        if (next == active) return;
        active = next;
        LOG.info("shard " + shardIndex + ": routing with placement generation " + generation);
    }

    /** Drops a prepared generation that will not be committed; the one in force is kept. */
    public synchronized void abort(long generation) {
        Held dropped = held.get(generation);
        if (dropped == null || dropped == active) return;
        held.remove(generation);
        dropped.experts().releaseExcept(held.values().stream().map(Held::experts).toArray(ExpertShard[]::new));
        LOG.info("shard " + shardIndex + ": placement generation " + generation + " aborted; " + active.placement().generation() + " stays");
    }

    /**
     * Phase 3: gives back the experts of every generation but the active one and {@code keep} (-1: none). Only once
     * no shard of the group can still dispatch with them.
     */
    public synchronized void release(long keep) {
        for (Long generation : held.keySet().toArray(Long[]::new)) {
            Held h = held.get(generation);
            if (h == active || generation == keep) continue;
            held.remove(generation);
            h.experts().releaseExcept(held.values().stream().map(Held::experts).toArray(ExpertShard[]::new));
        }
    }

    /**
     * A new placement file read from disk: load, route with it, keep the previous one for peers that have not read it
     * yet, and give back anything older.
     */
    public synchronized void reload(PlacementFile next) {
        long previous = active.placement().generation();
        Held same = held.get(next.generation());
        if (same == null || !same.placement().toJson().equals(next.toJson())) {
            held.remove(next.generation());
            held.put(next.generation(), load(next));
        }
        commit(next.generation());
        release(previous);
    }

    /** Bytes of the routed-expert weights the placement in force gives this shard (per-layer sets, copies included). */
    public long activeBytes() {
        return active.experts().bytes();
    }

    /**
     * A generation this shard does not hold (a peer read a new placement file before this shard did): any held
     * placement that has every expert the dispatch names in its layer computes the same sums, since an expert's
     * weights do not depend on where it is placed.
     */
    private Held holderOf(Frame.Dispatch d) {
        if (ownsAll(active, d)) return active;
        for (Held h : held.values()) if (ownsAll(h, d)) return h;
        return null;
    }

    private static boolean ownsAll(Held h, Frame.Dispatch d) {
        for (int e : d.experts()) if (e != -1 && !h.experts().owns(d.layer(), e)) return false;
        return true;
    }

    /** A peer's dispatch: computed with the experts of the generation it was routed with. */
    @Override
    public float[] compute(Frame.Dispatch d) {
        Held h = held.get(d.generation());
        if (h == null) h = holderOf(d); // a file rollout: a peer read the new file first
        if (h == null) {
            throw new IllegalStateException("shard " + shardIndex + " does not hold placement generation " + d.generation()
                    + " (it holds " + Arrays.toString(generations()) + "); the shards of this group disagree on the placement");
        }
        float[] partial = new float[d.tokens() * d.hidden()];
        h.experts().apply(d.layer(), d.tokens(), d.k(), d.vectors(), d.experts(), d.weights(), partial);
        return partial;
    }
}
