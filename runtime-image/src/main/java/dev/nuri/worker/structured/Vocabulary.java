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
        int n = tokenizer.size();
        byId = new byte[n][];
        Integer[] order = java.util.stream.IntStream.range(0, n)
                .filter(id -> tokenizer.isValidId(id) && !tokenizer.isSpecial(id) && tokenizer.bytes(id).length > 0)
                .boxed().toArray(Integer[]::new);
        for (int id : order) byId[id] = tokenizer.bytes(id);
        Arrays.sort(order, Comparator.comparing((Integer id) -> byId[id], Arrays::compareUnsigned));
        ids = new int[order.length];
        bytes = new byte[order.length][];
        shared = new int[order.length];
        int max = 0;
        for (int i = 0; i < order.length; i++) {
            ids[i] = order[i];
            bytes[i] = byId[order[i]];
            max = Math.max(max, bytes[i].length);
            if (i > 0) shared[i] = Math.abs(Arrays.mismatch(bytes[i - 1], bytes[i]));
        }
        longest = max;
        eos = tokenizer.specialId(tokenizer.eosToken());
    }

    /** The bytes of an ordinary token, else null. */
    byte[] bytes(int id) {
        return id >= 0 && id < byId.length ? byId[id] : null;
    }
}
