package dev.nuri.kernels.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Attention over the KV cache split over the kernel pool gives, bit for bit, what one thread gives: on shapes where
 * the units (GQA's row-head pairs, MLA's heads) outnumber the threads and do not divide evenly, with a prefill chunk
 * (one sequence, consecutive positions) and decoding sequences (one row each, one of them past a block) in one batch.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HeadSplitTest {
    private static final int LAYERS = 2, LAYER = 1, BLOCK = 16;

    @AfterEach
    void restorePool() {
        KernelPool.configure(KernelPool.defaultThreads());
    }

    @Test
    void groupedQueryAttentionOnThreeThreadsEqualsOneThreadBitForBit() {
        int heads = 6, kvHeads = 2, headDim = 64;
        var gqa = new GroupedQueryAttention(LAYER, heads, kvHeads, headDim, null, null, null, null, null, null, 1e-6f, null);
        Batch b = batch(kvHeads * headDim, kvHeads * headDim, heads * headDim, new Random(14));
        assertSplitEqualsOneThread(gqa, b, b.n * kvHeads, true, heads * headDim);
    }

    @Test
    void multiHeadLatentAttentionOnThreeThreadsEqualsOneThreadBitForBit() {
        int heads = 7, nope = 16, ropeDim = 8, vDim = 12, rank = 32;
        Random random = new Random(15);
        WeightMatrix kvBProj = f32(heads * (nope + vDim), rank, random);
        var mla = new MultiHeadLatentAttention(LAYER, 64, heads, nope, ropeDim, vDim, rank, null, null, null, null, null, null,
                kvBProj, null, 1e-6f, 0.125f, null);
        Batch b = batch(rank + ropeDim, 0, heads * (nope + ropeDim), random);
        assertSplitEqualsOneThread(mla, b, heads, false, heads * vDim);
    }

    /**
     * MLA takes the rows in chunks (q_abs and the latent contexts of a chunk in the thread's scratch) and, on long
     * contexts, the heads in groups (their scores in the scratch): chunks of 2 and of 5 rows, and groups of 4 heads with
     * one row at a time, give what one chunk of all 13 rows and all 7 heads gives, bit for bit.
     */
    @Test
    void multiHeadLatentAttentionInChunksOfRowsEqualsOneChunk() {
        int heads = 7, nope = 16, ropeDim = 8, vDim = 12, rank = 32;
        Random random = new Random(16);
        WeightMatrix kvBProj = f32(heads * (nope + vDim), rank, random);
        var mla = new MultiHeadLatentAttention(LAYER, 64, heads, nope, ropeDim, vDim, rank, null, null, null, null, null, null,
                kvBProj, null, 1e-6f, 0.125f, null);
        Batch b = batch(rank + ropeDim, 0, heads * (nope + ropeDim), random);
        KernelPool.configure(1, 0);
        // as in assertSplitEqualsOneThread: compared where two whole-batch runs around the chunked ones agree
        for (int warmUp = 0; warmUp < 200; warmUp++) attendAll(mla, b, heads, vDim);
        for (int attempt = 0; attempt < 20; attempt++) {
            mla.chunkFloats = MultiHeadLatentAttention.CHUNK_FLOATS;
            float[] before = attendAll(mla, b, heads, vDim);
            mla.chunkFloats = 2 * heads * rank;
            float[] two = attendAll(mla, b, heads, vDim);
            mla.chunkFloats = 5 * heads * rank;
            float[] five = attendAll(mla, b, heads, vDim);
            mla.chunkFloats = 4 * 41; // the longest row attends over 41 positions: groups of 4 heads
            float[] grouped = attendAll(mla, b, heads, vDim);
            mla.chunkFloats = MultiHeadLatentAttention.CHUNK_FLOATS;
            if (!Arrays.equals(before, attendAll(mla, b, heads, vDim))) continue;
            assertThat(two).as("chunks of 2 rows").containsExactly(before);
            assertThat(five).as("chunks of 5 rows").containsExactly(before);
            assertThat(grouped).as("groups of 4 heads, a row at a time").containsExactly(before);
            return;
        }
        throw new AssertionError("two whole-batch runs never agreed: the JIT kept recompiling");
    }

    static float[] attendAll(MultiHeadLatentAttention mla, Batch b, int heads, int vDim) {
        float[] out = new float[b.n * heads * vDim];
        mla.attend(b.q, b.caches, b.positions, b.n, out, 0, heads, new float[][] {new float[0], new float[0], new float[0]});
        return out;
    }

    /** n rows: a prefill chunk of 9 positions (21..29) of one sequence, then 4 sequences decoding at 40, 3, 16, 0. */
    record Batch(float[] q, KvCache[] caches, int[] positions, int n) {}

    static Batch batch(int keyWidth, int valueWidth, int qWidth, Random random) {
        KvBlockPool pool = new KvBlockPool(LAYERS, BLOCK, 32, keyWidth, valueWidth);
        List<KvCache> caches = new ArrayList<>();
        List<Integer> positions = new ArrayList<>();
        KvCache prefill = filled(pool, 30, random);
        prefill.truncate(21);
        for (int p = 21; p < 30; p++) {
            caches.add(prefill);
            positions.add(p);
        }
        for (int len : new int[] {41, 4, 17, 1}) {
            KvCache c = filled(pool, len, random);
            c.truncate(len - 1);
            caches.add(c);
            positions.add(len - 1);
        }
        int n = caches.size();
        float[] q = new float[n * qWidth];
        for (int i = 0; i < q.length; i++) q[i] = (float) random.nextGaussian();
        return new Batch(q, caches.toArray(KvCache[]::new), positions.stream().mapToInt(Integer::intValue).toArray(), n);
    }

    /** A sequence whose first {@code len} positions hold random keys and values in every layer. */
    static KvCache filled(KvBlockPool pool, int len, Random random) {
        KvCache c = new KvCache(pool, 64);
        c.reserve(len);
        for (int layer = 0; layer < LAYERS; layer++) {
            for (int b = 0; b < len; b += BLOCK) {
                for (float[] side : new float[][] {c.keys(layer, b), c.values(layer, b)}) {
                    if (side == null) continue; // MLA keeps no value side
                    for (int i = 0; i < side.length; i++) side[i] = (float) random.nextGaussian();
                }
            }
        }
        c.commit(len);
        return c;
    }

    static WeightMatrix f32(int rows, int cols, Random random) {
        MemorySegment s = Arena.ofAuto().allocate((long) rows * cols * 4);
        for (long i = 0; i < (long) rows * cols; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) random.nextGaussian());
        return WeightMatrix.of(new Tensor("kv_b_proj", DType.F32, new long[] {rows, cols}, s));
    }

    /**
     * Runs the split on 1 and on 3 threads (every split taken, however small) and checks that the 3-thread run cut
     * the units into several chunks covering each unit once and gave the same floats. A Vector API reduction sums its
     * lanes in another order once the JIT has compiled it, so the comparison is taken where two 1-thread runs around
     * the 3-thread one agree (no compilation in between); the first such window decides.
     */
    static void assertSplitEqualsOneThread(HeadSplit.Heads heads, Batch b, int units, boolean perRow, int outWidth) {
        for (int warmUp = 0; warmUp < 200; warmUp++) run(heads, b, units, perRow, outWidth, 1, null);
        for (int attempt = 0; attempt < 20; attempt++) {
            float[] before = run(heads, b, units, perRow, outWidth, 1, null);
            List<int[]> chunks = new ArrayList<>();
            float[] split = run(heads, b, units, perRow, outWidth, 3, chunks);
            float[] after = run(heads, b, units, perRow, outWidth, 1, null);
            if (!Arrays.equals(before, after)) continue;

            chunks.sort((x, y) -> Integer.compare(x[0], y[0]));
            assertThat(chunks.size()).as("chunks of %d units on 3 threads", units).isGreaterThan(3);
            int next = 0;
            for (int[] c : chunks) {
                assertThat(c[0]).as("chunk %s starts where the one before ended", Arrays.toString(c)).isEqualTo(next);
                next = c[1];
            }
            assertThat(next).as("units covered").isEqualTo(units);
            for (int i = 0; i < split.length; i++) {
                assertThat(split[i]).as("output %d of %d (row %d) on 3 threads against 1", i, split.length, i / (split.length / b.n))
                        .isEqualTo(before[i]);
            }
            return;
        }
        throw new AssertionError("two 1-thread runs never agreed: the JIT kept recompiling");
    }

    /** The split's output on {@code threads}; records each chunk's [u0, u1) when chunks is not null. */
    static float[] run(HeadSplit.Heads heads, Batch b, int units, boolean perRow, int outWidth, int threads, List<int[]> chunks) {
        KernelPool.configure(threads, 0);
        float[] out = new float[b.n * outWidth];
        HeadSplit.Heads recorded = chunks == null ? heads : (q, caches, positions, n, o, u0, u1, scratch) -> {
            synchronized (chunks) {
                if (u1 > u0) chunks.add(new int[] {u0, u1});
            }
            heads.attend(q, caches, positions, n, o, u0, u1, scratch);
        };
        HeadSplit.run(recorded, b.q, b.caches, b.positions, b.n, out, units, perRow, 1);
        return out;
    }
}
