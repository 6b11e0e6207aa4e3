package dev.nuri.kernels.attention;

import java.util.Arrays;

/**
 * The attention state of one sequence: per layer, one row per past token of key-side and value-side
 * floats. For MLA the key side is the compressed latent (kv_lora_rank normalised + rope part) and there
 * is no value side; for GQA both hold kv_heads·head_dim. Grows on demand up to {@link #maxTokens()}.
 */
public final class KvCache {
    private final int maxTokens;
    private final int keyWidth;
    private final int valueWidth;
    private final float[][] keys;
    private final float[][] values;
    private int capacity;
    private int length;

    public KvCache(int layers, int maxTokens, int keyWidth, int valueWidth) {
        if (maxTokens <= 0) throw new IllegalArgumentException("maxTokens must be positive, got " + maxTokens);
        this.maxTokens = maxTokens;
        this.keyWidth = keyWidth;
        this.valueWidth = valueWidth;
        this.keys = new float[layers][];
        this.values = new float[layers][];
        this.capacity = Math.min(maxTokens, 64);
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[capacity * keyWidth];
            values[l] = new float[capacity * valueWidth];
        }
    }

    /** Tokens already in the cache (the position of the next token). */
    public int length() {
        return length;
    }

    public int maxTokens() {
        return maxTokens;
    }

    /** Forgets everything after the first {@code newLength} tokens (e.g. to re-run from a shared prefix). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " tokens to " + newLength);
        }
        length = newLength;
    }

    public int keyWidth() {
        return keyWidth;
    }

    public int valueWidth() {
        return valueWidth;
    }

    public float[] keys(int layer) {
        return keys[layer];
    }

    public float[] values(int layer) {
        return values[layer];
    }

    /** Makes room for positions below {@code tokens}; called by the model before writing. */
    public void reserve(int tokens) {
        if (tokens > maxTokens) {
            throw new IllegalArgumentException("sequence needs " + tokens + " positions but its cache was created for "
                    + maxTokens + "; create it with a larger maxTokens");
        }
        if (tokens <= capacity) return;
        int c = Math.min(maxTokens, Math.max(tokens, capacity * 2));
        for (int l = 0; l < keys.length; l++) {
            keys[l] = Arrays.copyOf(keys[l], c * keyWidth);
            values[l] = Arrays.copyOf(values[l], c * valueWidth);
        }
        capacity = c;
    }

    /** Marks positions below {@code newLength} as filled. */
    public void commit(int newLength) {
        if (newLength < length || newLength > capacity) throw new IllegalStateException("bad commit " + newLength);
        length = newLength;
    }
}
