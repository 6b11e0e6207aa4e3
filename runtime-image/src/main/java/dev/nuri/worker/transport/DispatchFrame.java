package dev.nuri.worker.transport;

import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * The binary frames shards exchange (all integers little-endian; layout in runtime-image/PLACEMENT.md):
 *
 * <pre>
 * u32 length of what follows | u8 kind | u8 dtype | u16 layer | u64 call id | u32 tokens | u32 hidden | body
 * DISPATCH body: u8 count[tokens] | u16 expert[sum count] | f32 weight[sum count] | hidden[tokens*hidden] in dtype
 * COMBINE  body: partial sums[tokens*hidden] in dtype
 * HELLO    body: none (tokens = sender shard index, hidden = group index, call id = placement generation)
 * FAILURE  body: UTF-8 message
 * </pre>
 */
public record DispatchFrame(Kind kind, WireDType dtype, int layer, long callId, int tokens, int hidden,
                            int[] counts, int[] experts, float[] weights, float[] vectors, String message) {
    public static final int HEADER_BYTES = 24;

    public enum Kind {
        HELLO(1), DISPATCH(2), COMBINE(3), FAILURE(4);
        final int code;

        Kind(int code) {
            this.code = code;
        }

        static Kind ofCode(int code) {
            for (Kind k : values()) if (k.code == code) return k;
            throw new IllegalArgumentException("unknown frame kind " + code);
        }
    }

    public static DispatchFrame hello(int shard, int group, long generation) {
        return new DispatchFrame(Kind.HELLO, WireDType.F32, 0, generation, shard, group, null, null, null, null, null);
    }

    public static DispatchFrame dispatch(WireDType dtype, int layer, long callId, int tokens, int hidden,
                                         int[] counts, int[] experts, float[] weights, float[] vectors) {
        return new DispatchFrame(Kind.DISPATCH, dtype, layer, callId, tokens, hidden, counts, experts, weights, vectors, null);
    }

    public static DispatchFrame combine(WireDType dtype, int layer, long callId, int tokens, int hidden, float[] vectors) {
        return new DispatchFrame(Kind.COMBINE, dtype, layer, callId, tokens, hidden, null, null, null, vectors, null);
    }

    public static DispatchFrame failure(long callId, String message) {
        return new DispatchFrame(Kind.FAILURE, WireDType.F32, 0, callId, 0, 0, null, null, null, null, message);
    }

    public Buffer encode() {
        int slots = experts == null ? 0 : experts.length;
        int vectorCount = vectors == null ? 0 : tokens * hidden;
        byte[] text = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
        int length = HEADER_BYTES - 4 + (counts == null ? 0 : tokens) + slots * 6 + vectorCount * dtype.bytes + text.length;
        Buffer b = Buffer.buffer(length + 4);
        b.appendIntLE(length).appendByte((byte) kind.code).appendByte((byte) dtype.code).appendShortLE((short) layer)
                .appendLongLE(callId).appendIntLE(tokens).appendIntLE(hidden);
        if (counts != null) {
            byte[] c = new byte[tokens];
            for (int t = 0; t < tokens; t++) c[t] = (byte) counts[t];
            b.appendBytes(c);
            for (int e : experts) b.appendShortLE((short) e);
            for (float w : weights) b.appendFloatLE(w);
        }
        if (vectors != null) dtype.append(b, vectors, 0, vectorCount);
        b.appendBytes(text);
        return b;
    }

    /** Decodes one frame without its 4-byte length prefix. */
    public static DispatchFrame decode(Buffer b) {
        Kind kind = Kind.ofCode(b.getByte(0));
        WireDType dtype = WireDType.ofCode(b.getByte(1));
        int layer = b.getUnsignedShortLE(2);
        long callId = b.getLongLE(4);
        int tokens = b.getIntLE(12);
        int hidden = b.getIntLE(16);
        int p = HEADER_BYTES - 4;
        return switch (kind) {
            case HELLO -> hello(tokens, hidden, callId);
            case FAILURE -> failure(callId, b.getString(p, b.length(), "UTF-8"));
            case COMBINE -> {
                float[] v = new float[tokens * hidden];
                dtype.read(b, p, v, 0, v.length);
                yield combine(dtype, layer, callId, tokens, hidden, v);
            }
            case DISPATCH -> {
                int[] counts = new int[tokens];
                int slots = 0;
                for (int t = 0; t < tokens; t++) {
                    counts[t] = b.getUnsignedByte(p + t);
                    slots += counts[t];
                }
                p += tokens;
                int[] experts = new int[slots];
                for (int i = 0; i < slots; i++) experts[i] = b.getUnsignedShortLE(p + 2 * i);
                p += 2 * slots;
                float[] weights = new float[slots];
                for (int i = 0; i < slots; i++) weights[i] = b.getFloatLE(p + 4 * i);
                p += 4 * slots;
                float[] v = new float[tokens * hidden];
                dtype.read(b, p, v, 0, v.length);
                yield dispatch(dtype, layer, callId, tokens, hidden, counts, experts, weights, v);
            }
        };
    }
}
