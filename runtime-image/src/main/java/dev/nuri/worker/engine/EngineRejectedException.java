package dev.nuri.worker.engine;

/** {@link Engine#submit} refused a request. */
public final class EngineRejectedException extends Exception {
    private final EngineFailure failure;

    public EngineRejectedException(EngineFailure failure) {
        super(failure.message());
        this.failure = failure;
    }

    public EngineFailure failure() {
        return failure;
    }
}
