package dev.nuri.worker.engine;

/**
 * Receives a request's progress. Called on the engine thread: implementations hand the work to their own thread
 * (the HTTP layer hops onto its Vert.x context) and must not block.
 */
public interface GenerationListener {
    void onOutput(SequenceOutput output);

    /** The whole request failed; no more calls follow. */
    void onFailure(EngineFailure failure);
}
