package dev.nuri.worker.engine;

/** Why the engine could not finish or accept a request. */
public record EngineFailure(Kind kind, String message) {
    public enum Kind {
        /** the waiting queue is full: retry later (429) */
        QUEUE_FULL,
        /** the shard is draining or its group is incomplete (503) */
        UNAVAILABLE,
        /** the request can never fit this shard's KV-cache budget (400) */
        TOO_LARGE,
        /** a bug or an unexpected kernel error (500) */
        INTERNAL
    }
}
