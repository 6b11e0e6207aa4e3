package dev.nuri.kernels.backend;

/**
 * Where the kernels execute. The only implementation is {@link CpuVectorBackend} (Vector API on the pod's
 * CPU). A vendor NPU runtime would plug in here through the FFM API (downcalls into its C library) and
 * serve the same two seams the model already uses: {@code WeightMatrix} products and
 * {@code RoutedExperts.apply}. None is implemented or simulated.
 */
public interface Backend {
    /** Short name for logs and metrics, e.g. "cpu-vector-512". */
    String name();

    /** The backend the process uses today. */
    static Backend current() {
        return CpuVectorBackend.INSTANCE;
    }
}
