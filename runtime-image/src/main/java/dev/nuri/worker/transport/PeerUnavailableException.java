package dev.nuri.worker.transport;

/** A peer shard of the group cannot take part in a step; requests touching it fail with 503. */
public final class PeerUnavailableException extends RuntimeException {
    public PeerUnavailableException(String message) {
        super(message);
    }
}
