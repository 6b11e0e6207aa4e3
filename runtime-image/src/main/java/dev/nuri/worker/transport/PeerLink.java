package dev.nuri.worker.transport;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * This shard's connection to one peer's expert server. It reconnects on its own; while it is down every call fails
 * with {@link PeerUnavailableException} and the shard reports itself not ready.
 */
public final class PeerLink implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PeerLink.class.getName());
    private static final long RECONNECT_MS = 250;
    private static final AtomicLong CALL_IDS = new AtomicLong();

    private final Vertx vertx;
    private final NetClient client;
    private final int selfShard;
    private final int groupIndex;
    private final int peerShard;
    private final String host;
    private final int port;
    private final Runnable onStateChange;
    private final Map<Long, CompletableFuture<DispatchFrame>> pending = new ConcurrentHashMap<>();
    private volatile NetSocket socket;
    private volatile boolean connected;
    private volatile boolean closed;
    private volatile String lastError = "not connected yet";

    public PeerLink(Vertx vertx, NetClient client, int selfShard, int groupIndex, int peerShard, String address, Runnable onStateChange) {
        this.vertx = vertx;
        this.client = client;
        this.selfShard = selfShard;
        this.groupIndex = groupIndex;
        this.peerShard = peerShard;
        int colon = address.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException("peer address " + address + " is not host:port");
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
        this.onStateChange = onStateChange;
    }

    public void start() {
        connect();
    }

    private void connect() {
        if (closed) return;
        client.connect(port, host).onSuccess(s -> {
            socket = s;
            s.handler(new FrameReader(this::onFrame));
            s.closeHandler(v -> lost(s, "connection closed"));
            s.exceptionHandler(e -> lost(s, e.toString()));
            s.write(DispatchFrame.hello(selfShard, groupIndex, 0).encode());
        }).onFailure(e -> {
            lastError = e.getMessage();
            vertx.setTimer(RECONNECT_MS, id -> connect());
        });
    }

    private void onFrame(DispatchFrame frame) {
        switch (frame.kind()) {
            case HELLO -> {
                if (frame.tokens() != peerShard || frame.hidden() != groupIndex) {
                    lastError = "peer at " + address() + " says it is shard " + frame.tokens() + " of group " + frame.hidden()
                            + ", expected shard " + peerShard + " of group " + groupIndex + " (check NURI_PEERS order)";
                    LOG.warning(lastError);
                    socket.close();
                    return;
                }
                connected = true;
                LOG.info("shard " + selfShard + " connected to peer shard " + peerShard + " at " + address());
                onStateChange.run();
            }
            case COMBINE -> complete(frame.callId(), frame, null);
            case FAILURE -> complete(frame.callId(), null, new PeerUnavailableException(
                    "peer shard " + peerShard + " failed to compute its experts: " + frame.message()));
            case DISPATCH -> LOG.warning("unexpected DISPATCH from the server side of peer " + peerShard);
        }
    }

    private void complete(long callId, DispatchFrame frame, RuntimeException error) {
        CompletableFuture<DispatchFrame> f = pending.remove(callId);
        if (f == null) return;
        if (error != null) f.completeExceptionally(error);
        else f.complete(frame);
    }

    private void lost(NetSocket s, String reason) {
        if (socket != s) return;
        socket = null;
        boolean wasConnected = connected;
        connected = false;
        lastError = reason;
        if (wasConnected) LOG.warning("shard " + selfShard + " lost peer shard " + peerShard + " at " + address() + ": " + reason);
        PeerUnavailableException failure = new PeerUnavailableException(
                "peer shard " + peerShard + " at " + address() + " was lost: " + reason);
        pending.values().forEach(f -> f.completeExceptionally(failure));
        pending.clear();
        onStateChange.run();
        if (!closed) vertx.setTimer(RECONNECT_MS, id -> connect());
    }

    /** Sends a frame built for the given call id and returns the peer's answer. */
    public CompletableFuture<DispatchFrame> call(java.util.function.LongFunction<DispatchFrame> frameForCall) {
        NetSocket s = socket;
        if (!connected || s == null) {
            throw new PeerUnavailableException("peer shard " + peerShard + " at " + address() + " is not connected: " + lastError);
        }
        long callId = CALL_IDS.incrementAndGet();
        CompletableFuture<DispatchFrame> f = new CompletableFuture<>();
        pending.put(callId, f);
        s.write(frameForCall.apply(callId).encode());
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
        return host + ":" + port;
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
