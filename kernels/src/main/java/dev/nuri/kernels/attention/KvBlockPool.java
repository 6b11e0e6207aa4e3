package dev.nuri.kernels.attention;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * The KV cache of a whole shard as fixed-size blocks (vLLM's paged attention): each block holds {@link #blockSize()}
 * positions of every layer's key side (MLA: the compressed latent + rope key) and value side. Sequences own blocks
 * through their {@link KvCache}'s block table; a block's memory is allocated the first time it is handed out and reused
 * after.
 *
 * <p>Prefix caching: a full block can be published under the {@link BlockHash} of its tokens and everything before
 * them. A later sequence with the same prefix takes the block instead of recomputing it (reference counted). Blocks no
 * sequence holds are free; published ones among them stay findable until they are handed out again, least recently
 * freed first (LRU eviction).
 *
 * <p>Not thread-safe: one engine thread allocates and releases; {@link #usedBlocks()} may be read from anywhere.
 */
public final class KvBlockPool {
    /** Identity of a full block's contents: SHA-256 of the previous block's hash and this block's tokens, 128 bits kept. */
    public record BlockHash(long hi, long lo) {
        static BlockHash of(BlockHash parent, int[] tokens, int from, int count) {
            ByteBuffer b = ByteBuffer.allocate(16 + 4 * count);
            b.putLong(parent == null ? 0 : parent.hi).putLong(parent == null ? 0 : parent.lo);
            for (int i = 0; i < count; i++) b.putInt(tokens[from + i]);
            try {
                ByteBuffer d = ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(b.array()));
                return new BlockHash(d.getLong(), d.getLong());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private final int layers, blockSize, blocks, keyWidth, valueWidth;
    private final float[][][] keys;   // [layer][block] -> blockSize * keyWidth, allocated on first use
    private final float[][][] values; // [layer][block] -> blockSize * valueWidth (none when valueWidth is 0)
    private final int[] refCount;
    private final BlockHash[] hashOf;
    private final Map<BlockHash, Integer> published = new HashMap<>();
    /** blocks nobody holds, least recently freed first: the next to be handed out (and so evicted from the cache) */
    private final LinkedHashSet<Integer> free = new LinkedHashSet<>();
    private volatile int usedBlocks;
    private volatile int allocatedBlocks;

    public KvBlockPool(int layers, int blockSize, int blocks, int keyWidth, int valueWidth) {
        if (blockSize < 1) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        if (blocks < 1) throw new IllegalArgumentException("a KV cache needs at least one block, got " + blocks);
        this.layers = layers;
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.keyWidth = keyWidth;
        this.valueWidth = valueWidth;
        this.keys = new float[layers][blocks][];
        this.values = new float[layers][blocks][];
        this.refCount = new int[blocks];
        this.hashOf = new BlockHash[blocks];
        for (int b = 0; b < blocks; b++) free.add(b);
    }

    /** Bytes one block takes once allocated. */
    public static long bytesPerBlock(int layers, int blockSize, int keyWidth, int valueWidth) {
        return (long) layers * blockSize * (keyWidth + valueWidth) * Float.BYTES;
    }

    public int blockSize() {
        return blockSize;
    }

    public int totalBlocks() {
        return blocks;
    }

    /** Blocks free to hand out (cached blocks nobody holds included: they are evicted on demand). */
    public int freeBlocks() {
        return free.size();
    }

    /**
     * Blocks whose memory has been allocated so far; safe to read from any thread. Free blocks are handed out least
     * recently freed first, and a never-used block counts as freed before any other, so a shard allocates every
     * block before it reuses one: the heap the cache takes grows to {@link #totalBlocks()} blocks, however light the
     * load, and stays there.
     */
    public int allocatedBlocks() {
        return allocatedBlocks;
    }

    /** Bytes one block of this pool takes once allocated. */
    public long bytesPerBlock() {
        return bytesPerBlock(layers, blockSize, keyWidth, valueWidth);
    }

    /** Blocks held by at least one sequence; safe to read from any thread. */
    public int usedBlocks() {
        return usedBlocks;
    }

    public int layers() {
        return layers;
    }

    public int keyWidth() {
        return keyWidth;
    }

    public int valueWidth() {
        return valueWidth;
    }

    float[] keys(int layer, int block) {
        return keys[layer][block];
    }

    float[] values(int layer, int block) {
        return values[layer][block];
    }

    /** Hands out a free block (evicting its cached contents), or -1 when none is free. */
    int allocate() {
        Iterator<Integer> it = free.iterator();
        if (!it.hasNext()) return -1;
        int b = it.next();
        it.remove();
        if (hashOf[b] != null) {
            published.remove(hashOf[b]);
            hashOf[b] = null;
        }
        refCount[b] = 1;
        usedBlocks++;
        if (keys[0][b] == null) {
            for (int l = 0; l < layers; l++) {
                keys[l][b] = new float[blockSize * keyWidth];
                values[l][b] = valueWidth == 0 ? null : new float[blockSize * valueWidth];
            }
            allocatedBlocks++;
        }
        return b;
    }

    /** The published block with this hash, now also held by the caller; -1 when there is none. */
    int lookup(BlockHash hash) {
        Integer b = published.get(hash);
        if (b == null) return -1;
        if (refCount[b]++ == 0) {
            free.remove(b);
            usedBlocks++;
        }
        return b;
    }

    void release(int block) {
        if (refCount[block] <= 0) throw new IllegalStateException("block " + block + " released more often than held");
        if (--refCount[block] == 0) {
            free.add(block);
            usedBlocks--;
        }
    }

    /** Makes a full, computed block findable under its hash (unless the same contents are published already). */
    void publish(int block, BlockHash hash) {
        if (hashOf[block] != null || published.containsKey(hash)) return;
        hashOf[block] = hash;
        published.put(hash, block);
    }
}
