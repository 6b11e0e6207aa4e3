package dev.nuri.contract;

import java.util.List;

/**
 * The JVM options every shard process starts with, defined once: the worker image sets them as
 * {@code JAVA_TOOL_OPTIONS} (runtime-image/Containerfile), the operator writes the same variable into a shard pod, and
 * {@code serve}'s local group adds them to its shard command lines.
 *
 * <p>Why these: a shard's weights are off-heap (the mapped checkpoint, or Q8_0 copies in native memory), so its heap
 * holds the KV cache and each step's short-lived arrays. The serial collector promotes some of those arrays and grows
 * its old generation rather than collect it, so under load its resident heap climbs toward {@code -Xmx} whatever the
 * live data (473 MB of heap committed and touched for 72 MB live after 64 concurrent requests with {@code -Xmx512m},
 * 487 MB with {@code -Xmx2g}); G1 reclaims the old generation concurrently and gives memory back (255–267 MB with
 * {@code -Xmx2g}; docs/benchmarks.md, "Resident memory and the collector"). Half the memory
 * limit is the most the heap may take: the other half holds the checkpoint's pages, which count against the pod's
 * memory too; the KV cache is sized from what that heap has free ({@code NURI_KV_CACHE_MEMORY_FRACTION}).
 */
public final class WorkerJvm {
    public static final List<String> OPTIONS = List.of("-XX:+UseG1GC", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError");

    /** {@link #OPTIONS} as one {@code JAVA_TOOL_OPTIONS} value. */
    public static String toolOptions() {
        return String.join(" ", OPTIONS);
    }

    private WorkerJvm() {}
}
