package dev.nuri.contract;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The secret the shards of one group share, and the challenge-response made with it when a peer connection opens
 * (mutual, HMAC-SHA256, a fresh random nonce from each side; see {@link Frame}):
 *
 * <pre>
 * client → server  HELLO(group, client shard, fingerprint, client nonce, no proof)
 * server → client  HELLO(group, server shard, fingerprint, server nonce, proof = HMAC(key, "server" | both HELLOs' fields))
 * client → server  PROOF(HMAC(key, "client" | both HELLOs' fields))
 * </pre>
 *
 * Each side sends nothing else before it has checked the other's proof, so a process without the key learns no
 * activation and gets no expert computed, and a replayed proof does not match a fresh nonce.
 */
public final class PeerKey {
    public static final int BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private final SecretKeySpec key;

    private PeerKey(byte[] key) {
        this.key = new SecretKeySpec(key, "HmacSHA256");
    }

    /** @throws IllegalArgumentException not 64 hex characters; the message does not echo the value */
    public static PeerKey parse(String hex) {
        String v = hex.trim();
        if (v.length() != 2 * BYTES || !v.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException(ShardSetting.PEER_KEY.names() + " must be " + 2 * BYTES
                    + " hex characters (" + BYTES + " random bytes), got " + v.length() + " characters");
        }
        return new PeerKey(HEX.parseHex(v));
    }

    /** A new random key, as the hex text {@link #parse} reads. */
    public static String generate() {
        byte[] b = new byte[BYTES];
        RANDOM.nextBytes(b);
        return HEX.formatHex(b);
    }

    public static byte[] nonce() {
        byte[] b = new byte[Frame.Hello.NONCE_BYTES];
        RANDOM.nextBytes(b);
        return b;
    }

    /** What the server's HELLO carries: proof that it holds the key, bound to both HELLOs. */
    public byte[] serverProof(Frame.Hello client, Frame.Hello server) {
        return mac("server", client, server);
    }

    /** What the client's PROOF carries. */
    public byte[] clientProof(Frame.Hello client, Frame.Hello server) {
        return mac("client", client, server);
    }

    /** The header that carries {@link #requestProof} on the internal HTTP endpoints (docs/placement.md). */
    public static final String REQUEST_HEADER = "X-Nuri-Peer-Auth";
    /** How far a request's clock may be from the shard's. */
    public static final long REQUEST_SKEW_SECONDS = 60;

    /**
     * The value of {@link #REQUEST_HEADER} for a call of the group's internal endpoints ({@code /v1/internal/...}):
     * {@code <unix seconds>:<hex HMAC(key, method | path and query | seconds | SHA-256 of the body)>}. The key itself is
     * never sent; a captured header is good for one request within {@link #REQUEST_SKEW_SECONDS}.
     */
    public String requestProof(String method, String pathAndQuery, byte[] body, long epochSeconds) {
        return epochSeconds + ":" + HEX.formatHex(requestMac(method, pathAndQuery, body, epochSeconds));
    }

    /** Whether a {@link #REQUEST_HEADER} value proves the caller holds this key, for this request, about now. */
    public boolean checkRequest(String header, String method, String pathAndQuery, byte[] body, long nowSeconds) {
        if (header == null) return false;
        int colon = header.indexOf(':');
        if (colon < 1 || header.length() - colon - 1 != 64) return false;
        long seconds;
        byte[] presented;
        try {
            seconds = Long.parseLong(header.substring(0, colon));
            presented = HEX.parseHex(header.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (Math.abs(nowSeconds - seconds) > REQUEST_SKEW_SECONDS) return false;
        return matches(requestMac(method, pathAndQuery, body, seconds), presented);
    }

    private byte[] requestMac(String method, String pathAndQuery, byte[] body, long seconds) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            byte[] bodyDigest = MessageDigest.getInstance("SHA-256").digest(body);
            mac.update(("nuri-internal-v1|" + method + "|" + pathAndQuery + "|" + seconds + "|").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return mac.doFinal(bodyDigest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    /** Constant-time comparison. */
    public static boolean matches(byte[] expected, byte[] actual) {
        return MessageDigest.isEqual(expected, actual);
    }

    private byte[] mac(String role, Frame.Hello client, Frame.Hello server) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            mac.update(("nuri-peer-v1|" + role).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            for (Frame.Hello h : new Frame.Hello[] {client, server}) {
                mac.update(java.nio.ByteBuffer.allocate(16).putInt(h.group()).putInt(h.shard()).putLong(h.modelFingerprint()).array());
                mac.update(h.nonce());
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    @Override
    public String toString() {
        return "PeerKey[hidden]";
    }
}
