package dev.nuri.worker.tokenizer;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The bytes of every token of a {@code tokenizer.json}. Byte-level BPE vocabularies (GPT-2, Qwen, DeepSeek, A.X)
 * spell bytes as printable characters; SentencePiece-style ones use {@code ▁} for a space and {@code <0xNN>} for raw
 * bytes. Added tokens stand for their content.
 */
final class TokenBytes {
    private static final byte[] EMPTY = new byte[0];

    private final byte[][] bytes;
    private final boolean[] special;
    private final Map<String, Integer> specialIds = new HashMap<>();

    private TokenBytes(int size) {
        bytes = new byte[size][];
        special = new boolean[size];
    }

    static TokenBytes from(JsonObject tokenizerJson) {
        JsonObject model = tokenizerJson.getJsonObject("model");
        JsonObject vocab = model.getJsonObject("vocab");
        JsonArray added = tokenizerJson.getJsonArray("added_tokens", new JsonArray());
        int size = 0;
        for (Object id : vocab.getMap().values()) size = Math.max(size, ((Number) id).intValue() + 1);
        for (Object o : added) size = Math.max(size, ((JsonObject) o).getInteger("id") + 1);
        TokenBytes table = new TokenBytes(size);
        boolean byteLevel = usesByteLevel(tokenizerJson.getJsonObject("decoder"));
        int[] charToByte = byteLevel ? byteLevelDecoding() : null;
        for (Map.Entry<String, Object> e : vocab) {
            int id = ((Number) e.getValue()).intValue();
            table.bytes[id] = byteLevel ? fromByteLevel(e.getKey(), charToByte) : fromSentencePiece(e.getKey());
        }
        for (Object o : added) {
            JsonObject t = (JsonObject) o;
            int id = t.getInteger("id");
            table.bytes[id] = t.getString("content").getBytes(StandardCharsets.UTF_8);
            table.special[id] = t.getBoolean("special", false);
            if (table.special[id]) table.specialIds.put(t.getString("content"), id);
        }
        return table;
    }

    private static boolean usesByteLevel(JsonObject decoder) {
        if (decoder == null) return false;
        if ("ByteLevel".equals(decoder.getString("type"))) return true;
        JsonArray steps = decoder.getJsonArray("decoders");
        if (steps != null) for (Object d : steps) if (usesByteLevel((JsonObject) d)) return true;
        return false;
    }

    /** GPT-2's table from printable characters back to bytes. */
    private static int[] byteLevelDecoding() {
        int[] charToByte = new int[324];
        java.util.Arrays.fill(charToByte, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            int c = printable ? b : 256 + n++;
            charToByte[c] = b;
        }
        return charToByte;
    }

    private static byte[] fromByteLevel(String token, int[] charToByte) {
        byte[] out = new byte[token.length()];
        int n = 0;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            int b = c < charToByte.length ? charToByte[c] : -1;
            if (b < 0) return token.getBytes(StandardCharsets.UTF_8); // not byte-level spelled; take it literally
            out[n++] = (byte) b;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private static byte[] fromSentencePiece(String token) {
        if (token.length() == 6 && token.startsWith("<0x") && token.endsWith(">")) {
            return new byte[] {(byte) Integer.parseInt(token.substring(3, 5), 16)};
        }
        return token.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    byte[] bytes(int id) {
        if (id < 0 || id >= bytes.length || bytes[id] == null) return EMPTY;
        return bytes[id];
    }

    boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    boolean contains(int id) {
        return id >= 0 && id < bytes.length && bytes[id] != null;
    }

    int size() {
        return bytes.length;
    }

    /** The most bytes any one token stands for: a text of B bytes is at least B / this many tokens. */
    int longestToken() {
        int longest = 1;
        for (byte[] b : bytes) if (b != null) longest = Math.max(longest, b.length);
        return longest;
    }

    int specialId(String content) {
        return specialIds.getOrDefault(content, -1);
    }
}
