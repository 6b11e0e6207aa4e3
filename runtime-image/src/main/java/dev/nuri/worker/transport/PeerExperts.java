package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;

/** What the expert server asks of this shard's experts: one weighted partial sum per dispatched token. */
@FunctionalInterface
public interface PeerExperts {
    /** @return tokens × hidden partial sums, in dispatch order */
    float[] compute(Frame.Dispatch dispatch);
}
