package dev.nuri.contract;

/**
 * The kubelet's probes of a shard container (the operator writes them into the pod template; the worker's tests hold
 * the shard to them).
 *
 * <p>Restarting a shard loses every request in flight in its whole group (its peers answer 503 "peer shard ... was
 * lost"), so liveness must not mistake a busy shard for a dead one. {@code /health/live} does no work: it only says
 * the HTTP event loop turns. What can delay its answer is a node so loaded that the pod gets little CPU (on the real
 * node at load average 50-76 every shard of a group missed six 3 s probes in a row and all four were restarted), so
 * it is probed with a timeout far past any scheduling delay and restarted only after minutes of silence: a hung
 * shard is rare and costs latency until then; a false restart costs every request of the group. Readiness, probed
 * more often, carries the serving state (loading, draining, a peer missing) and takes the shard out of the
 * endpoints quickly; its timeout is longer than it was too, so that a loaded node does not empty the endpoints.
 * This follows the Kubernetes guidance on probes (liveness on a low-cost endpoint "with a higher failureThreshold"
 * than readiness, so that a pod is seen not-ready for a while before it is killed; a liveness probe that restarts
 * containers under high load leads to cascading failures; the 1 s default {@code timeoutSeconds} is too short for a
 * loaded node) and the vLLM and KServe charts (liveness on a cheap route, readiness on the serving state).
 */
public final class ShardProbes {
    /** The kubelet waits this long for {@code /health/live} (the default is 1 s; 3 s timed out on a loaded node). */
    public static final int LIVENESS_TIMEOUT_SECONDS = 10;
    public static final int LIVENESS_PERIOD_SECONDS = 10;
    /** Twelve unanswered probes in a row: two minutes and more of silence before the kubelet restarts the shard. */
    public static final int LIVENESS_FAILURE_THRESHOLD = 12;

    public static final int READINESS_TIMEOUT_SECONDS = 5;
    public static final int READINESS_PERIOD_SECONDS = 5;
    public static final int READINESS_FAILURE_THRESHOLD = 3;

    /** Startup: up to an hour to load a large model, each probe with the liveness timeout. */
    public static final int STARTUP_PERIOD_SECONDS = 5;
    public static final int STARTUP_FAILURE_THRESHOLD = 720;

    private ShardProbes() {
    }
}
