package dev.nuri.worker.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text pieces, holding back the bytes of a UTF-8 character split across tokens
 * (common for Korean: one syllable is three bytes, often two tokens) until it is complete.
 */
public final class IncrementalText {
    private final ModelTokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    public IncrementalText(ModelTokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** The text that token completes; empty while a character is still incomplete. */
    public String next(int id) {
        if (skipSpecialTokens && tokenizer.isSpecial(id)) return "";
        pending.writeBytes(tokenizer.bytes(id));
        byte[] b = pending.toByteArray();
        int complete = completePrefix(b);
        if (complete == 0) return "";
        pending.reset();
        pending.write(b, complete, b.length - complete);
        return new String(b, 0, complete, StandardCharsets.UTF_8);
    }

    /** What is left at the end of the sequence (an incomplete character becomes U+FFFD). */
    public String flush() {
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /** Length of the longest prefix that does not end inside a UTF-8 character. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(4, n); back++) {
            int c = b[n - back] & 0xff;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: look further back
            int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n; // only continuation bytes: invalid anyway, let the decoder replace them
    }
}
