package dev.nuri.kernels.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KernelPoolTest {
    @AfterEach
    void restore() {
        KernelPool.configure(KernelPool.defaultThreads());
    }

    @Test
    void everyChunkRunsExactlyOnceAcrossManyDispatches() {
        KernelPool.configure(3, 0);
        KernelPool pool = KernelPool.global();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        for (int round = 0; round < 2_000; round++) {
            int chunks = 1 + round % 13;
            AtomicIntegerArray runs = new AtomicIntegerArray(chunks);
            pool.run(chunks, i -> {
                runs.incrementAndGet(i);
                threads.add(Thread.currentThread().getName());
            });
            for (int i = 0; i < chunks; i++) assertThat(runs.get(i)).as("round %d chunk %d", round, i).isEqualTo(1);
        }
        // the workers took part (a chunk long enough that the caller cannot run them all alone)
        CountDownLatch both = new CountDownLatch(2);
        pool.run(2, i -> {
            both.countDown();
            try {
                assertThat(both.await(10, TimeUnit.SECONDS)).isTrue();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(threads).anyMatch(n -> n.startsWith("nuri-kernel-"));
    }

    /**
     * A worker still in the last dispatch (it read the claim, then was descheduled) while the next one is set up:
     * with the new chunk count already written and the old claim still open, it claimed the old dispatch's "next"
     * chunk, which the new count made valid, and ran it with the new task; the new dispatch then ran that chunk
     * again (seen once in a module run of the test above: "[round 1206 chunk 10] expected: 1 but was: 2").
     * Dispatches of n then n + 1 chunks, many times, give that window the most chances.
     */
    @Test
    void aWorkerLateFromTheLastDispatchClaimsNothingOfTheNext() {
        KernelPool.configure(3, 0);
        KernelPool pool = KernelPool.global();
        AtomicIntegerArray runs = new AtomicIntegerArray(12);
        int duplicates = 0;
        for (int round = 0; round < 300_000; round++) {
            int chunks = 10 + round % 2;
            for (int i = 0; i < chunks; i++) runs.set(i, 0);
            pool.run(chunks, runs::incrementAndGet);
            for (int i = 0; i < chunks; i++) if (runs.get(i) != 1) duplicates++;
        }
        assertThat(duplicates).as("chunks not run exactly once").isZero();
    }

    @Test
    void aFailingChunkFailsTheDispatchAndThePoolStaysUsable() {
        KernelPool.configure(2, 0);
        KernelPool pool = KernelPool.global();
        assertThatThrownBy(() -> pool.run(8, i -> {
            if (i == 5) throw new IllegalArgumentException("chunk 5 failed");
        })).isInstanceOf(IllegalArgumentException.class).hasMessage("chunk 5 failed");
        AtomicIntegerArray runs = new AtomicIntegerArray(8);
        pool.run(8, runs::incrementAndGet);
        for (int i = 0; i < 8; i++) assertThat(runs.get(i)).isEqualTo(1);
    }

    @Test
    void aDispatchFromInsideAChunkRunsOnItsOwnThread() {
        KernelPool.configure(2, 0);
        KernelPool pool = KernelPool.global();
        AtomicIntegerArray inner = new AtomicIntegerArray(4 * 4);
        pool.run(4, i -> {
            String mine = Thread.currentThread().getName();
            pool.run(4, j -> {
                assertThat(Thread.currentThread().getName()).isEqualTo(mine);
                inner.incrementAndGet(4 * i + j);
            });
        });
        for (int i = 0; i < 16; i++) assertThat(inner.get(i)).isEqualTo(1);
    }

    @Test
    void twoThreadsDispatchingAtOnceBothComplete() throws Exception {
        KernelPool.configure(2, 0);
        KernelPool pool = KernelPool.global();
        AtomicIntegerArray a = new AtomicIntegerArray(64), b = new AtomicIntegerArray(64);
        Thread other = Thread.ofPlatform().start(() -> {
            for (int r = 0; r < 500; r++) pool.run(64, b::incrementAndGet);
        });
        for (int r = 0; r < 500; r++) pool.run(64, a::incrementAndGet);
        other.join();
        for (int i = 0; i < 64; i++) {
            assertThat(a.get(i)).isEqualTo(500);
            assertThat(b.get(i)).isEqualTo(500);
        }
    }

    @Test
    void aDispatchAllocatesNothing() {
        KernelPool.configure(2, 0);
        KernelPool pool = KernelPool.global();
        long[] sink = new long[8];
        KernelPool.Task task = i -> sink[i]++;
        for (int r = 0; r < 20_000; r++) pool.run(8, task); // warm up: JIT, thread-locals
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int r = 0; r < 10_000; r++) pool.run(8, task);
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertThat(allocated).as("bytes allocated by 10,000 dispatches").isLessThan(1_000);
    }

    @Test
    void chunksFollowTheSizeAndTheThreads() {
        KernelPool.configure(1);
        assertThat(KernelPool.global().chunks(1L << 30, 1000)).isEqualTo(1);
        KernelPool.configure(4);
        KernelPool pool = KernelPool.global();
        assertThat(pool.chunks(KernelPool.DEFAULT_MIN_CHUNK_BYTES, 1000)).as("one chunk's worth").isEqualTo(1);
        assertThat(pool.chunks(3 * KernelPool.DEFAULT_MIN_CHUNK_BYTES, 1000)).isEqualTo(3);
        assertThat(pool.chunks(1L << 30, 1000)).isEqualTo(4 * KernelPool.CHUNKS_PER_THREAD);
        assertThat(pool.chunks(1L << 30, 5)).as("no more chunks than units").isEqualTo(5);
        assertThatThrownBy(() -> KernelPool.configure(0)).hasMessageContaining("at least 1");
    }
}
