package dev.nuri.kernels.attention;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * What the heap of a shard does as its KV cache is used: a block's memory is allocated the first time it is handed out,
 * and free blocks go out least recently freed first, never-used ones before any freed one. So a lightly loaded shard
 * still allocates every block before it reuses one, and the heap grows to the cache's size and no further (the soak's
 * "growing" live heap, docs/benchmarks.md).
 */
class KvBlockPoolTest {

    @Test
    void everyBlockIsAllocatedOnceBeforeAnyIsReusedAndNeverMore() {
        KvBlockPool pool = new KvBlockPool(2, 4, 8, 3, 5);
        assertThat(pool.allocatedBlocks()).isZero();
        assertThat(pool.bytesPerBlock()).isEqualTo(2L * 4 * (3 + 5) * Float.BYTES);
        // one short sequence at a time, each freed before the next starts: one block held at most
        for (int i = 1; i <= 20; i++) {
            KvCache sequence = new KvCache(pool, 4);
            sequence.reserve(4);
            assertThat(pool.usedBlocks()).isEqualTo(1);
            assertThat(pool.allocatedBlocks()).as("after sequence %d", i).isEqualTo(Math.min(i, 8));
            sequence.release();
        }
        assertThat(pool.allocatedBlocks()).isEqualTo(pool.totalBlocks());
    }
}
