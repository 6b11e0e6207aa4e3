package dev.nuri.kernels.attention;

import dev.nuri.kernels.attention.KvBlockPool.BlockHash;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The attention state of one sequence: a block table into a {@link KvBlockPool}. Position p lives in block
 * {@code table[p / blockSize]}, row {@code p % blockSize}; each row holds one layer's key side (MLA: the compressed
 * latent, kv_lora_rank normalised + rope part, and no value side; GQA: kv_heads·head_dim each side). How a row lies
 * in its block is the attention's: MLA's and GQA's value side a row after another, GQA's key side dimension-major
 * (dimension j of row r at {@code j * blockSize + r}, see GroupedQueryAttention).
 *
 * <p>Blocks are taken from the pool as positions are reserved and given back by {@link #release()}. The leading full
 * blocks may be shared with other sequences through the pool's prefix cache ({@link #attachCachedPrefix},
 * {@link #publishFullBlocks}); a shared block is never written again, since only positions at or past
 * {@link #length()} are written and a sequence only attaches blocks before its own first position to compute.
 */
public final class KvCache {
    private final KvBlockPool pool;
    private final int maxTokens;
    private final int blockSize;
    private int[] table = new int[8];
    private int blocks;
    private int length;
    /** leading full blocks published to (or found in) the prefix cache, and the last one's hash */
    private int publishedBlocks;
    private BlockHash lastHash;

    public KvCache(KvBlockPool pool, int maxTokens) {
        if (maxTokens <= 0) throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        this.pool = pool;
        this.maxTokens = maxTokens;
        this.blockSize = pool.blockSize();
    }

    /** A cache with a pool of its own, big enough for {@code maxTokens} (memory is taken as positions are reserved). */
    public static KvCache standalone(int layers, int maxTokens, int keyWidth, int valueWidth) {
        int blockSize = Math.min(maxTokens, 64);
        return new KvCache(new KvBlockPool(layers, blockSize, (maxTokens + blockSize - 1) / blockSize, keyWidth, valueWidth), maxTokens);
    }

    /** Tokens already in the cache (the position of the next token). */
    public int length() {
        return length;
    }

    public int maxTokens() {
        return maxTokens;
    }

    public int keyWidth() {
        return pool.keyWidth();
    }

    public int valueWidth() {
        return pool.valueWidth();
    }

    public int blockSize() {
        return blockSize;
    }

    /** The block holding {@code position}'s keys of {@code layer}; the position is row {@code position % blockSize()}. */
    public float[] keys(int layer, int position) {
        return pool.keys(layer, table[position / blockSize]);
    }

    public float[] values(int layer, int position) {
        return pool.values(layer, table[position / blockSize]);
    }

    /** Blocks this sequence holds. */
    public int blocks() {
        return blocks;
    }

    /** Blocks still to take from the pool before positions below {@code tokens} can be written. */
    public int blocksNeeded(int tokens) {
        return Math.max(0, (tokens + blockSize - 1) / blockSize - blocks);
    }

    /** Takes the blocks for positions below {@code tokens}, all or none; false when the pool has too few free. */
    public boolean tryReserve(int tokens) {
        if (tokens > maxTokens) {
            throw new IllegalArgumentException("sequence needs " + tokens + " positions but its cache was created for "
                    + maxTokens + "; create it with a larger maxTokens");
        }
        int need = blocksNeeded(tokens);
        if (need > pool.freeBlocks()) return false;
        for (int i = 0; i < need; i++) add(pool.allocate());
        return true;
    }

    /** Makes room for positions below {@code tokens}; called by the model before writing. */
    public void reserve(int tokens) {
        if (!tryReserve(tokens)) {
            throw new IllegalStateException("the KV cache has no free block for position " + (tokens - 1) + " ("
                    + pool.totalBlocks() + " blocks of " + blockSize + " tokens, all held)");
        }
    }

    /** Forgets everything after the first {@code newLength} tokens (e.g. to re-run a step); keeps the blocks. */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length || newLength < publishedBlocks * blockSize) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " tokens (" + publishedBlocks * blockSize
                    + " of them in shared prefix blocks) to " + newLength);
        }
        length = newLength;
    }

    /** Marks positions below {@code newLength} as filled. */
    public void commit(int newLength) {
        if (newLength < length || newLength > blocks * blockSize) throw new IllegalStateException("bad commit " + newLength);
        length = newLength;
    }

    /**
     * Takes, from the pool's prefix cache, the longest run of full blocks that hold {@code tokens[0, limit)}'s leading
     * positions, and returns how many tokens they cover (a multiple of the block size). Only for an empty cache.
     */
    public int attachCachedPrefix(int[] tokens, int limit) {
        if (blocks != 0) throw new IllegalStateException("a prefix can only be attached to an empty cache");
        BlockHash parent = null;
        for (int from = 0; from + blockSize <= Math.min(limit, tokens.length); from += blockSize) {
            BlockHash h = BlockHash.of(parent, tokens, from, blockSize);
            int b = pool.lookup(h);
            if (b < 0) break;
            add(b);
            parent = h;
        }
        publishedBlocks = blocks;
        lastHash = parent;
        length = blocks * blockSize;
        return length;
    }

    /** Publishes the full blocks below {@link #length()} not published yet; {@code tokens} are this sequence's tokens. */
    public void publishFullBlocks(int[] tokens) {
        while ((publishedBlocks + 1) * blockSize <= length) {
            lastHash = BlockHash.of(lastHash, tokens, publishedBlocks * blockSize, blockSize);
            pool.publish(table[publishedBlocks], lastHash);
            publishedBlocks++;
        }
    }

    /** Gives every block back to the pool (the last first, so that a prefix's head stays cached longest). */
    public void release() {
        for (int i = blocks - 1; i >= 0; i--) pool.release(table[i]);
        blocks = 0;
        length = 0;
        publishedBlocks = 0;
        lastHash = null;
    }

    /** The pool's block ids this sequence holds, in position order (for tests and diagnostics). */
    public List<Integer> blockTable() {
        List<Integer> ids = new ArrayList<>(blocks);
        for (int i = 0; i < blocks; i++) ids.add(table[i]);
        return ids;
    }

    private void add(int block) {
        if (blocks == table.length) table = Arrays.copyOf(table, blocks * 2);
        table[blocks++] = block;
    }
}
