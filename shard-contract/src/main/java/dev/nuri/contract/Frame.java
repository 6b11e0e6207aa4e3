package dev.nuri.contract;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The frames the shards of a group exchange over their peer ports. This comment is the one description of the layout.
 * Every integer is little-endian; each frame is a {@code u32} length of what follows, then a {@code u8} kind, then the
 * kind's own fields:
 *
 * <pre>
 * HELLO    u32 group | u32 shard | u64 model fingerprint | u8 nonce[32] | u8 proof[32] (zeros in the client's HELLO)
 * PROOF    u8 proof[32]
 * DISPATCH u64 call | u64 placement generation | u16 layer | u8 dtype | u8 k | u32 tokens T | u32 hidden H
 *          | u16 expert[T·k] (0xFFFF: an empty slot) | f32 weight[T·k] | vectors[T·H] in dtype
 * COMBINE  u64 call | u16 layer | u8 dtype | u32 tokens T | u32 hidden H | vectors[T·H] in dtype
 * FAILURE  u64 call | UTF-8 message
 * </pre>
 *
 * A connection opens with the handshake of {@link PeerKey}: the client's HELLO, the server's HELLO with its proof, the
 * client's PROOF; until it is done neither side sends or accepts anything else, and frames longer than a HELLO are
 * refused. dtype: 0 F32, 1 BF16 (round to nearest even). A DISPATCH carries, for each token that has at least one of its k
 * routed experts on the receiving shard, the token's hidden vector once and its k slots as the router chose them, with
 * the slots of experts held elsewhere left empty: the receiver hands them to the grouped expert product as they are.
 * The placement generation is the one the sender's whole step was routed with: the receiver computes with the experts
 * that placement gave it, which it keeps loaded until every shard of the group has switched to a newer one.
 * The COMBINE with the same call id holds one weighted partial sum per dispatched token, in dispatch order; a FAILURE
 * with that id says why there is none. A receiver checks every header against its {@link Limits} before it allocates.
 */
public sealed interface Frame permits Frame.Hello, Frame.Proof, Frame.Dispatch, Frame.Combine, Frame.Failure {
    int HELLO = 1;
    int DISPATCH = 2;
    int COMBINE = 3;
    int FAILURE = 4;
    int PROOF = 5;

    /** Bytes of the length prefix. */
    int LENGTH_BYTES = 4;
    /** The expert id of an empty slot on the wire. */
    int EMPTY_SLOT = 0xFFFF;
    int MAX_FAILURE_MESSAGE_BYTES = 4096;

    /** The frame with its length prefix. */
    byte[] encode();

    /**
     * The first frame on a connection, in both directions: who is speaking, for which group and model, a fresh nonce,
     * and (from the server) the proof that it holds the group's key.
     */
    record Hello(int group, int shard, long modelFingerprint, byte[] nonce, byte[] proof) implements Frame {
        public static final int NONCE_BYTES = 32;
        public static final int PROOF_BYTES = 32;
        static final int BYTES = 1 + 4 + 4 + 8 + NONCE_BYTES + PROOF_BYTES;

        public Hello {
            if (nonce.length != NONCE_BYTES || proof.length != PROOF_BYTES) throw new IllegalArgumentException("nonce and proof are 32 bytes");
        }

        /** A client's opening HELLO: no proof yet. */
        public Hello(int group, int shard, long modelFingerprint, byte[] nonce) {
            this(group, shard, modelFingerprint, nonce, new byte[PROOF_BYTES]);
        }

        @Override
        public byte[] encode() {
            return start(BYTES, HELLO).putInt(group).putInt(shard).putLong(modelFingerprint).put(nonce).put(proof).array();
        }
    }

    /** The client's answer to the server's HELLO: proof that it holds the group's key too. */
    record Proof(byte[] proof) implements Frame {
        static final int BYTES = 1 + Hello.PROOF_BYTES;

        @Override
        public byte[] encode() {
            return start(BYTES, PROOF).put(proof).array();
        }
    }

    /**
     * Tokens for the receiver's experts.
     *
     * @param generation the placement generation the sender routed this step with
     * @param experts T·k routed expert ids, -1 where the slot's expert is not on the receiver
     * @param weights T·k final routing weights (scaling included)
     * @param vectors T·H hidden vectors (the normalized MoE input)
     */
    record Dispatch(long callId, long generation, int layer, WireDType dtype, int tokens, int hidden, int k, int[] experts,
                    float[] weights, float[] vectors) implements Frame {
        static final int HEADER = 1 + 8 + 8 + 2 + 1 + 1 + 4 + 4;

        @Override
        public byte[] encode() {
            int slots = tokens * k;
            ByteBuffer b = start(HEADER + slots * 6 + tokens * hidden * dtype.bytes, DISPATCH)
                    .putLong(callId).putLong(generation).putShort((short) layer).put((byte) dtype.code).put((byte) k).putInt(tokens).putInt(hidden);
            for (int i = 0; i < slots; i++) b.putShort((short) (experts[i] < 0 ? EMPTY_SLOT : experts[i]));
            for (int i = 0; i < slots; i++) b.putFloat(weights[i]);
            dtype.put(b, vectors, 0, tokens * hidden);
            return b.array();
        }
    }

    /** The answer to a {@link Dispatch}: one weighted partial sum (H values) per dispatched token. */
    record Combine(long callId, int layer, WireDType dtype, int tokens, int hidden, float[] vectors) implements Frame {
        static final int HEADER = 1 + 8 + 2 + 1 + 4 + 4;

        @Override
        public byte[] encode() {
            ByteBuffer b = start(HEADER + tokens * hidden * dtype.bytes, COMBINE)
                    .putLong(callId).putShort((short) layer).put((byte) dtype.code).putInt(tokens).putInt(hidden);
            dtype.put(b, vectors, 0, tokens * hidden);
            return b.array();
        }
    }

    /** The answer to a {@link Dispatch} the receiver could not compute. */
    record Failure(long callId, String message) implements Frame {
        @Override
        public byte[] encode() {
            byte[] text = message.getBytes(StandardCharsets.UTF_8);
            int n = Math.min(text.length, MAX_FAILURE_MESSAGE_BYTES);
            return start(1 + 8 + n, FAILURE).putLong(callId).put(text, 0, n).array();
        }
    }

    /**
     * What a receiver accepts, from the model and the batch limit: frames that break them are refused before anything
     * is allocated for them.
     *
     * @param hidden the model's hidden size: every DISPATCH and COMBINE must carry exactly this
     * @param maxTokens most tokens one frame may carry (the longest forward pass a peer runs)
     * @param maxK most routed experts per token
     * @param numExperts routed experts of the model
     */
    record Limits(int hidden, int maxTokens, int maxK, int numExperts) {
        /** The largest length prefix a valid frame can have. */
        public int maxFrameBytes() {
            long dispatch = Dispatch.HEADER + (long) maxTokens * maxK * 6 + (long) maxTokens * hidden * WireDType.F32.bytes;
            long failure = 1 + 8 + MAX_FAILURE_MESSAGE_BYTES;
            return (int) Math.min(Integer.MAX_VALUE - 64, Math.max(dispatch, Math.max(failure, Hello.BYTES)));
        }
    }

    /** The length cap while the handshake is not done: a HELLO is the largest handshake frame. */
    int HANDSHAKE_MAX_BYTES = Hello.BYTES;

    /** A frame that breaks the layout or the receiver's limits; the connection it came on is closed. */
    final class BadFrameException extends RuntimeException {
        public BadFrameException(String message) {
            super(message, null, false, false); // a peer's mistake, not ours: no stack trace
        }
    }

    /** Checks a length prefix before its bytes are buffered. */
    static void checkLength(long length, Limits limits) {
        checkLength(length, limits.maxFrameBytes());
    }

    /** Checks a length prefix against a cap, e.g. {@link #HANDSHAKE_MAX_BYTES} before the handshake is done. */
    static void checkLength(long length, int max) {
        if (length < 1 || length > max) throw new BadFrameException("frame length " + length + " is outside 1.." + max);
    }

    /** Decodes one frame given without its length prefix. */
    static Frame decode(ByteBuffer body, Limits limits) {
        ByteBuffer in = body.slice().order(ByteOrder.LITTLE_ENDIAN);
        try {
            int kind = in.get() & 0xff;
            return switch (kind) {
                case HELLO -> {
                    exact(in, Hello.BYTES - 1, "HELLO");
                    int group = in.getInt();
                    int shard = in.getInt();
                    long fingerprint = in.getLong();
                    byte[] nonce = new byte[Hello.NONCE_BYTES];
                    byte[] proof = new byte[Hello.PROOF_BYTES];
                    in.get(nonce).get(proof);
                    yield new Hello(group, shard, fingerprint, nonce, proof);
                }
                case PROOF -> {
                    exact(in, Proof.BYTES - 1, "PROOF");
                    byte[] proof = new byte[Hello.PROOF_BYTES];
                    in.get(proof);
                    yield new Proof(proof);
                }
                case DISPATCH -> {
                    long call = in.getLong();
                    long generation = in.getLong();
                    int layer = in.getShort() & 0xffff;
                    WireDType dtype = dtype(in.get());
                    int k = in.get() & 0xff;
                    int tokens = in.getInt();
                    int hidden = in.getInt();
                    checkShape("DISPATCH", tokens, hidden, limits);
                    if (k < 1 || k > limits.maxK()) throw new BadFrameException("DISPATCH k " + k + " is outside 1.." + limits.maxK());
                    int slots = tokens * k;
                    exact(in, (long) slots * 6 + (long) tokens * hidden * dtype.bytes, "DISPATCH");
                    int[] experts = new int[slots];
                    for (int i = 0; i < slots; i++) {
                        int e = in.getShort() & 0xffff;
                        if (e == EMPTY_SLOT) {
                            e = -1;
                        } else if (e >= limits.numExperts()) {
                            throw new BadFrameException("DISPATCH names expert " + e + "; the model has " + limits.numExperts());
                        }
                        experts[i] = e;
                    }
                    float[] weights = new float[slots];
                    in.asFloatBuffer().get(weights);
                    in.position(in.position() + slots * 4);
                    float[] vectors = new float[tokens * hidden];
                    dtype.get(in, vectors, 0, vectors.length);
                    yield new Dispatch(call, generation, layer, dtype, tokens, hidden, k, experts, weights, vectors);
                }
                case COMBINE -> {
                    long call = in.getLong();
                    int layer = in.getShort() & 0xffff;
                    WireDType dtype = dtype(in.get());
                    int tokens = in.getInt();
                    int hidden = in.getInt();
                    checkShape("COMBINE", tokens, hidden, limits);
                    exact(in, (long) tokens * hidden * dtype.bytes, "COMBINE");
                    float[] vectors = new float[tokens * hidden];
                    dtype.get(in, vectors, 0, vectors.length);
                    yield new Combine(call, layer, dtype, tokens, hidden, vectors);
                }
                case FAILURE -> {
                    long call = in.getLong();
                    if (in.remaining() > MAX_FAILURE_MESSAGE_BYTES) throw new BadFrameException("FAILURE message too long");
                    byte[] text = new byte[in.remaining()];
                    in.get(text);
                    yield new Failure(call, new String(text, StandardCharsets.UTF_8));
                }
                default -> throw new BadFrameException("unknown frame kind " + kind);
            };
        } catch (java.nio.BufferUnderflowException e) {
            throw new BadFrameException("frame of " + body.remaining() + " bytes ends inside its header");
        }
    }

    private static void checkShape(String kind, int tokens, int hidden, Limits limits) {
        if (hidden != limits.hidden()) {
            throw new BadFrameException(kind + " hidden size " + Integer.toUnsignedString(hidden) + " is not the model's " + limits.hidden());
        }
        if (tokens < 1 || tokens > limits.maxTokens()) {
            throw new BadFrameException(kind + " of " + Integer.toUnsignedString(tokens) + " tokens is outside 1.." + limits.maxTokens());
        }
    }

    private static void exact(ByteBuffer in, long expected, String kind) {
        if (in.remaining() != expected) {
            throw new BadFrameException(kind + " body has " + in.remaining() + " bytes where its header says " + expected);
        }
    }

    private static WireDType dtype(byte code) {
        WireDType d = WireDType.ofCode(code & 0xff);
        if (d == null) throw new BadFrameException("unknown wire dtype " + (code & 0xff));
        return d;
    }

    private static ByteBuffer start(int length, int kind) {
        return ByteBuffer.allocate(LENGTH_BYTES + length).order(ByteOrder.LITTLE_ENDIAN).putInt(length).put((byte) kind);
    }
}
