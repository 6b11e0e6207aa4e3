package dev.nuri.kernels.backend;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads the kernels run on: the calling thread plus {@code threads - 1} daemon workers. A product is
 * split into chunks (ranges of output rows, or whole experts) that the caller and the workers claim one
 * at a time; each chunk writes its own outputs, so the results do not depend on the number of threads.
 *
 * <p>The hot path takes no lock and allocates nothing: a dispatch publishes its task and a claim counter
 * that carries the dispatch's generation in its upper half (a worker that wakes late cannot claim a chunk
 * of a later dispatch with an earlier task), workers spin briefly between dispatches and then park.
 * One dispatch runs at a time: a second thread that dispatches meanwhile (a peer's expert request beside
 * the engine's step), or a chunk that dispatches again, runs its chunks itself, in order.
 *
 * <p>Size: {@link #defaultThreads()} unless the worker's setting says otherwise ({@link #configure}).
 */
public final class KernelPool {
    /** One dispatch: chunk i of n. */
    public interface Task {
        void run(int chunk);
    }

    /**
     * Below this much weight per chunk a split costs more than it gains: a hand-off is a few microseconds,
     * 256 KiB of weights stream in about 10-20 µs on one core.
     */
    public static final long DEFAULT_MIN_CHUNK_BYTES = 256 << 10;
    /** Chunks per thread: smaller than an equal split, so a thread descheduled by a busy node delays less. */
    static final int CHUNKS_PER_THREAD = 4;
    /** Spins (PAUSE) of an idle worker before it parks: some tens of microseconds, the gap between two products. */
    private static final int IDLE_SPINS = 2_000;

    private static volatile KernelPool global = new KernelPool(defaultThreads(), DEFAULT_MIN_CHUNK_BYTES);

    private final int threads;
    private final long minChunkBytes;
    private final Worker[] workers;
    private final AtomicLong claim = new AtomicLong(); // generation << 32 | next chunk
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger busy = new AtomicInteger();
    private Task task;       // written before claim publishes a generation
    private int chunks;
    private volatile Throwable failure;
    private volatile boolean closed;

    KernelPool(int threads, long minChunkBytes) {
        if (threads < 1) throw new IllegalArgumentException("kernel threads must be at least 1, got " + threads);
        this.threads = threads;
        this.minChunkBytes = minChunkBytes;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("nuri-kernel-" + (i + 1));
            workers[i].start();
        }
    }

    /**
     * The CPUs this process may use: {@link Runtime#availableProcessors()}, which the JVM derives from the
     * container's CPU quota (cgroup v1 {@code cpu.cfs_quota_us / cpu.cfs_period_us}, v2 {@code cpu.max}, rounded
     * up) and its cpuset, so a pod with {@code limits.cpu: 4} on a 64-core node gets 4.
     */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** The pool every kernel uses. */
    public static KernelPool global() {
        return global;
    }

    /** Replaces the global pool (at start, before the model runs; tests switch it between cases). */
    public static synchronized void configure(int threads) {
        configure(threads, DEFAULT_MIN_CHUNK_BYTES);
    }

    /** {@code minChunkBytes} 0 splits every product, however small (tests run tiny models through every path). */
    public static synchronized void configure(int threads, long minChunkBytes) {
        KernelPool old = global;
        if (old.threads == threads && old.minChunkBytes == minChunkBytes) return;
        global = new KernelPool(threads, minChunkBytes);
        old.close();
    }

    public int threads() {
        return threads;
    }

    /**
     * How many chunks to cut a product into that reads {@code bytes} of weights and has at most
     * {@code maxChunks} units (row groups, experts): 1 means run it on the caller.
     */
    public int chunks(long bytes, int maxChunks) {
        if (threads == 1 || maxChunks < 2) return 1;
        long bySize = minChunkBytes == 0 ? Long.MAX_VALUE : bytes / minChunkBytes;
        return (int) Math.max(1, Math.min(Math.min(bySize, maxChunks), (long) threads * CHUNKS_PER_THREAD));
    }

    /** Runs task.run(0 .. chunks-1), spread over the pool; returns when all are done; rethrows a chunk's failure. */
    public void run(int chunks, Task task) {
        if (chunks <= 1 || workers.length == 0 || !busy.compareAndSet(0, 1)) {
            for (int i = 0; i < chunks; i++) task.run(i);
            return;
        }
        try {
            long generation = (claim.get() >>> 32) + 1;
            // closes the last dispatch first: a worker still in it that read its claim before this and reads
            // the new chunks after it would otherwise claim a chunk of this dispatch under the old generation
            // (chunk 10 of 11 run twice, and done counted once too often, when the last dispatch had 10)
            claim.set((generation - 1) << 32 | Integer.MAX_VALUE);
            this.task = task;
            this.chunks = chunks;
            this.failure = null;
            done.set(0);
            claim.set(generation << 32); // publishes task and chunks to the workers
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            work(generation);
            for (int spins = 0; done.get() < chunks; spins++) {
                if (spins < IDLE_SPINS) Thread.onSpinWait();
                else Thread.yield(); // a worker holding a chunk was descheduled: let it run
            }
            Throwable f = failure;
            if (f != null) {
                if (f instanceof RuntimeException r) throw r;
                if (f instanceof Error e) throw e;
                throw new IllegalStateException(f);
            }
        } finally {
            this.task = null;
            busy.set(0);
        }
    }

    /** Claims and runs chunks of dispatch {@code generation} until none is left. */
    private void work(long generation) {
        while (true) {
            long c = claim.get();
            if (c >>> 32 != generation) return;
            int i = (int) c;
            // chunks may already be the next dispatch's; then the claim below fails (run() closes the old one first)
            if (i >= chunks) return;
            if (!claim.compareAndSet(c, c + 1)) continue;
            try {
                task.run(i);
            } catch (Throwable t) {
                if (failure == null) failure = t;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    private final class Worker extends Thread {
        volatile boolean parked;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = claim.get() >>> 32;
            int idle = 0;
            while (!closed) {
                long generation = claim.get() >>> 32;
                if (generation != seen) {
                    seen = generation;
                    work(generation);
                    idle = 0;
                } else if (idle++ < IDLE_SPINS) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    // re-check after announcing: a dispatch either sees parked and unparks, or is seen here
                    if (claim.get() >>> 32 == seen && !closed) LockSupport.park(this);
                    parked = false;
                    idle = 0;
                }
            }
        }
    }
}
