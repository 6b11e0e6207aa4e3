package dev.nuri.worker.structured;

import dev.nuri.worker.tokenizer.ModelTokenizer;

import java.util.Arrays;
import java.util.Comparator;

/**
 * A model's ordinary tokens (special ones never appear inside structured output) sorted by their bytes, with how many
 * leading bytes each shares with the one before: walking them in order, a mask reuses the matcher states of the shared
 * prefix and skips every token below a prefix that already failed.
 */
public final class Vocabulary {
    final int[] ids;
    final byte[][] bytes;
    final int[] shared;
    final int longest;
    /** the end-of-sequence token, allowed once the output is whole */
    final int eos;
    private final byte[][] byId;

    public Vocabulary(ModelTokenizer tokenizer) {
        this(ordinaryTokens(tokenizer), tokenizer.specialId(tokenizer.eosToken()));
    }

    /** @param byId the bytes of each ordinary token, null for special or unused ids */
    public Vocabulary(byte[][] byId, int eos) {
        this.byId = byId;
        this.eos = eos;
        Integer[] order = java.util.stream.IntStream.range(0, byId.length).filter(id -> byId[id] != null && byId[id].length > 0)
                .boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparing((Integer id) -> byId[id], Arrays::compareUnsigned));
        ids = new int[order.length];
        bytes = new byte[order.length][];
        shared = new int[order.length];
        int max = 0;
        for (int i = 0; i < order.length; i++) {
            ids[i] = order[i];
            bytes[i] = byId[order[i]];
            max = Math.max(max, bytes[i].length);
            int m = i == 0 ? 0 : Arrays.mismatch(bytes[i - 1], bytes[i]);
            shared[i] = m < 0 ? bytes[i].length : m; // -1: the same bytes as the previous token
        }
        longest = max;
    }

    private static byte[][] ordinaryTokens(ModelTokenizer tokenizer) {
        byte[][] out = new byte[tokenizer.size()][];
        for (int id = 0; id < out.length; id++) {
            if (tokenizer.isValidId(id) && !tokenizer.isSpecial(id)) out[id] = tokenizer.bytes(id);
        }
        return out;
    }

    public int size() {
        return byId.length;
    }

    public int ordinaryTokens() {
        return ids.length;
    }

    /** The bytes of an ordinary token, else null. */
    byte[] bytes(int id) {
        return id >= 0 && id < byId.length ? byId[id] : null;
    }
}
