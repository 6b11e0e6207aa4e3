package dev.nuri.worker.moe;

/**
 * The routed experts of a step could not be computed because a peer shard holding some of them is not connected,
 * failed, or did not answer in time. The engine fails the requests of that step with 503; the shard is unready
 * until the peer is back. How peers are reached (transport) stays behind this type.
 */
public final class ExpertsUnavailableException extends RuntimeException {
    public ExpertsUnavailableException(String message) {
        super(message);
    }
}
