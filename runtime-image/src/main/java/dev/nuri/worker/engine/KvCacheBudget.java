package dev.nuri.worker.engine;

/**
 * How many KV-cache blocks a shard holds: {@code NURI_KV_CACHE_TOKENS} when set, else a share of the heap still free
 * once the weights are loaded (the heap follows the pod's memory limit through {@code -XX:MaxRAMPercentage}), as vLLM
 * sizes its cache from {@code gpu_memory_utilization}.
 *
 * @param blocks blocks of {@code blockSize} positions
 * @param derived whether the size came from the memory rather than a setting
 */
public record KvCacheBudget(int blocks, int blockSize, boolean derived) {
    /**
     * @param tokens   the KV-cache size asked for, in tokens; 0 to derive it from the memory
     * @param fraction share of {@code freeHeapBytes} the cache may fill
     */
    public static KvCacheBudget of(int tokens, double fraction, int blockSize, long bytesPerToken, long freeHeapBytes) {
        boolean derived = tokens == 0;
        long t = derived ? (long) (fraction * freeHeapBytes / bytesPerToken) : tokens;
        long blocks = Math.min(t / blockSize, Integer.MAX_VALUE / 8); // the pool indexes blocks with ints
        if (blocks < 1) {
            throw new IllegalArgumentException(derived
                    ? "the heap has " + freeHeapBytes / (1 << 20) + " MiB free after loading the weights: not one KV-cache block of "
                            + blockSize + " tokens (" + bytesPerToken * blockSize + " bytes) fits; give the pod more memory"
                    : "a KV cache of " + tokens + " tokens holds no block of " + blockSize + "; set NURI_KV_CACHE_TOKENS to at least " + blockSize);
        }
        return new KvCacheBudget((int) blocks, blockSize, derived);
    }

    /** The heap a new allocation can still get: the most it may grow to, less what is in use (after a collection). */
    public static long freeHeapBytes() {
        Runtime rt = Runtime.getRuntime();
        System.gc(); // once, at start: what loading left behind is not memory the cache can count on
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    public long tokens() {
        return (long) blocks * blockSize;
    }
}
