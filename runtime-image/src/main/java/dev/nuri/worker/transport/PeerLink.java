package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.ShardSetting;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import java.util.logging.Logger;

/**
 * This shard's connection to one peer's expert server. It counts as connected only once the server has proven that it
 * holds the group's key ({@link PeerKey}) and is the shard of the group at that address; until then nothing but the
 * handshake is sent to it. It reconnects on its own; while it is down every call fails with
 * {@link PeerUnavailableException} and the shard reports itself not ready.
 *
 * <p>A restarted peer comes back at a new IP address under the same name, and the name can still resolve to the old
 * one for a while (the DNS records' TTL and caches; on the real node the old address only timed out, 2 s a try): the
 * peer was ready, the group's pods all Ready, and this shard still refused requests. So when the peer's own link has
 * authenticated with this shard's expert server ({@link #peerCalledFrom}), the next attempt goes to the address it
 * called from, at the configured port, with the same handshake; the name again once that connection is lost or fails.
 */
public final class PeerLink implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PeerLink.class.getName());
    private static final long RECONNECT_MS = 250;
    private static final AtomicLong CALL_IDS = new AtomicLong();

    private final Vertx vertx;
    private final NetClient client;
    private final ShardIdentity self;
    private final PeerKey key;
    private final Frame.Limits limits;
    private final int peerShard;
    private final String host;
    private final int port;
    private final Map<Long, CompletableFuture<Frame.Combine>> pending = new ConcurrentHashMap<>();
    private volatile NetSocket socket;
    private volatile boolean connected;
    private volatile boolean closed;
    private volatile String lastError = "not connected yet";
    private final java.util.concurrent.atomic.AtomicInteger attempts = new java.util.concurrent.atomic.AtomicInteger();
    private volatile String calledFrom; // where the peer's own authenticated link came from; tried before the name
    private volatile String connectedTo; // the host of the current connection
    private volatile NetSocket dropped; // closed by this side: its reason stays the last error
    private Frame.Hello opening; // this side's HELLO on the current connection (fresh nonce each time)

    public PeerLink(Vertx vertx, NetClient client, ShardIdentity self, PeerKey key, Frame.Limits limits, int peerShard, String address) {
        this.vertx = vertx;
        this.client = client;
        this.self = self;
        this.key = key;
        this.limits = limits;
        this.peerShard = peerShard;
        int colon = address.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException("peer address " + address + " is not host:port");
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
    }

    public void start() {
        connect();
    }

    private void connect() {
        if (closed || socket != null) return;
        int attempt = attempts.incrementAndGet(); // a later attempt (a fresher address) supersedes this one
        String target = calledFrom != null ? calledFrom : host;
        client.connect(port, target).onSuccess(s -> {
            synchronized (this) { // the timer's attempt and a peer's call can run on different event loops
                if (attempt != attempts.get() || closed || socket != null) {
                    s.close();
                    return;
                }
                socket = s;
                connectedTo = target;
            }
            s.handler(new FrameReader(() -> connected ? limits.maxFrameBytes() : Frame.HANDSHAKE_MAX_BYTES, limits,
                    frame -> onFrame(s, frame), bad -> drop(s, "bad frame from peer shard " + peerShard + ": " + bad.getMessage())));
            s.closeHandler(v -> lost(s, "connection closed"));
            s.exceptionHandler(e -> lost(s, e.toString()));
            opening = self.hello();
            s.write(Buffer.buffer(opening.encode()));
        }).onFailure(e -> {
            if (attempt != attempts.get()) return;
            lastError = e.getMessage();
            if (!target.equals(host)) calledFrom = null; // back to the name
            vertx.setTimer(RECONNECT_MS, id -> connect());
        });
    }

    /**
     * The peer's own link has just authenticated with this shard's expert server from {@code remoteHost}: while this
     * link is down, connect there now rather than wait for the name to resolve to the peer's new address.
     */
    public void peerCalledFrom(String remoteHost) {
        if (connected || closed || remoteHost.equals(host) || remoteHost.equals(calledFrom)) return;
        calledFrom = remoteHost;
        LOG.info("shard " + self.shard() + ": peer shard " + peerShard + " called from " + remoteHost + "; connecting to it at "
                + remoteHost + ":" + port + " (" + address() + " not connected: " + lastError + ")");
        vertx.runOnContext(v -> connect());
    }

    private void onFrame(NetSocket s, Frame frame) {
        if (s != socket) return;
        switch (frame) {
            case Frame.Hello hello when !connected -> {
                if (hello.shard() != peerShard || hello.group() != self.group() || hello.modelFingerprint() != self.modelFingerprint()) {
                    drop(s, "peer at " + address() + " says it is shard " + hello.shard() + " of group " + hello.group()
                            + " (model " + Long.toHexString(hello.modelFingerprint()) + "), expected shard " + peerShard
                            + " of group " + self.group() + " (model " + Long.toHexString(self.modelFingerprint()) + "); check "
                            + ShardSetting.PEERS.env() + " order");
                    return;
                }
                if (!PeerKey.matches(key.serverProof(opening, hello), hello.proof())) {
                    drop(s, "the process at " + address() + " does not hold this group's peer key; not sending it anything");
                    return;
                }
                s.write(Buffer.buffer(new Frame.Proof(key.clientProof(opening, hello)).encode()));
                connected = true;
                LOG.info("shard " + self.shard() + " connected to peer shard " + peerShard + " at " + address());
            }
            case Frame.Combine combine when connected -> complete(combine.callId(), combine, null);
            case Frame.Failure failure when connected -> complete(failure.callId(), null, new PeerUnavailableException(
                    "peer shard " + peerShard + " failed to compute its experts: " + failure.message()));
            default -> drop(s, "unexpected " + frame.getClass().getSimpleName().toUpperCase(java.util.Locale.ROOT)
                    + " from peer shard " + peerShard + " at " + address());
        }
    }

    /** Closes a connection this side will not use: one WARNING line, not repeated for each retry of the same failure. */
    private void drop(NetSocket s, String why) {
        if (!why.equals(lastError)) LOG.warning("shard " + self.shard() + ": " + why);
        lastError = why;
        dropped = s;
        s.close();
    }

    private void complete(long callId, Frame.Combine frame, RuntimeException error) {
        CompletableFuture<Frame.Combine> f = pending.remove(callId);
        if (f == null) return;
        if (error != null) f.completeExceptionally(error);
        else f.complete(frame);
    }

    private void lost(NetSocket s, String reason) {
        if (socket != s) return;
        if (!host.equals(connectedTo)) calledFrom = null; // a peer that restarts comes back at another address
        socket = null;
        boolean wasConnected = connected;
        connected = false;
        if (dropped != s) lastError = reason;
        if (wasConnected) LOG.warning("shard " + self.shard() + " lost peer shard " + peerShard + " at " + address() + ": " + reason);
        PeerUnavailableException failure = new PeerUnavailableException(
                "peer shard " + peerShard + " at " + address() + " was lost: " + reason);
        pending.values().forEach(f -> f.completeExceptionally(failure));
        pending.clear();
        if (!closed) vertx.setTimer(RECONNECT_MS, id -> connect());
    }

    /** Sends a frame built for a fresh call id and returns the peer's answer. */
    public CompletableFuture<Frame.Combine> call(LongFunction<Frame.Dispatch> frameForCall) {
        NetSocket s = socket;
        if (!connected || s == null) {
            throw new PeerUnavailableException("peer shard " + peerShard + " at " + address() + " is not connected: " + lastError);
        }
        long callId = CALL_IDS.incrementAndGet();
        CompletableFuture<Frame.Combine> f = new CompletableFuture<>();
        pending.put(callId, f);
        s.write(Buffer.buffer(frameForCall.apply(callId).encode()));
        if (!connected) complete(callId, null, new PeerUnavailableException("peer shard " + peerShard + " was lost: " + lastError));
        return f;
    }

    public boolean connected() {
        return connected;
    }

    public int peerShard() {
        return peerShard;
    }

    public String address() {
        String via = connectedTo;
        return host + ":" + port + (connected && via != null && !via.equals(host) ? " (" + via + ")" : "");
    }

    public String lastError() {
        return lastError;
    }

    @Override
    public void close() {
        closed = true;
        NetSocket s = socket;
        if (s != null) s.close();
    }
}
