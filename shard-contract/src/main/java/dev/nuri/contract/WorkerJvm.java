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
 *
 * <p>Since a step reuses its buffers (kernels' {@code Scratch}) the heap is mostly the KV cache and what loading left,
 * yet G1 still sized it for throughput: it grows the heap while collections take more than 1/13 of the time (its
 * {@code GCTimeRatio} of 12), which the load's burst of young collections does, and keeps up to 70% of it free. With
 * {@code GCTimeRatio=4} (grow only past 20%) and 10–30% free after a collection, the anonymous memory of a 1-thread
 * BF16 shard after 64 concurrent requests was 0.27–0.40 GB against 0.36–0.59 GB, at the same tokens per CPU-second
 * (docs/benchmarks.md, "The JVM's share of resident memory").
 */
public final class WorkerJvm {
    public static final List<String> OPTIONS = List.of("-XX:+UseG1GC", "-XX:GCTimeRatio=4", "-XX:MinHeapFreeRatio=10",
            "-XX:MaxHeapFreeRatio=30", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError");

    /** {@link #OPTIONS} as one {@code JAVA_TOOL_OPTIONS} value. */
    public static String toolOptions() {
        return String.join(" ", OPTIONS);
    }

    /** Prints {@link #toolOptions()}: how a benchmark driver outside the JVM starts a worker as a pod would. */
    public static void main(String[] args) {
        System.out.println(toolOptions());
    }

    private WorkerJvm() {}
}
