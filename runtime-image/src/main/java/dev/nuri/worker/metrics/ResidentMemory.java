package dev.nuri.worker.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shard process's resident memory as the kernel counts it ({@code /proc/self/status}, Linux): all of it
 * ({@code VmRSS}), its anonymous part ({@code RssAnon}: the Java heap with the KV cache, quantised weight copies, JIT
 * code and the JVM's own) and its file-backed part ({@code RssFile}: the pages of the mapped checkpoint touched so
 * far). Served as gauges so that a shard's memory can be read against its weights and KV cache.
 */
public final class ResidentMemory {
    public static final String TOTAL = "nuri.process_resident_memory_bytes";
    public static final String ANONYMOUS = "nuri.process_resident_anonymous_memory_bytes";
    public static final String FILE = "nuri.process_resident_file_memory_bytes";
    private static final Path STATUS = Path.of("/proc/self/status");

    private ResidentMemory() {}

    static void register(WorkerMetrics metrics) {
        metrics.gauge(TOTAL, "Resident memory of the shard process (VmRSS)", () -> bytes("VmRSS"));
        metrics.gauge(ANONYMOUS, "Anonymous resident memory of the shard process (RssAnon): heap, KV cache, quantised weights, "
                + "JIT code", () -> bytes("RssAnon"));
        metrics.gauge(FILE, "File-backed resident memory of the shard process (RssFile): the mapped checkpoint's pages in memory",
                () -> bytes("RssFile"));
    }

    /** A {@code /proc/self/status} field in bytes; NaN where there is none (not Linux). */
    static double bytes(String field) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(field + ":")) {
                    String[] parts = line.substring(field.length() + 1).trim().split("\\s+"); // "123456 kB"
                    return Long.parseLong(parts[0]) * 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
