package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Serves this shard's experts to the peers of its group. A connection is served only after the handshake of
 * {@link PeerKey} (the peer's HELLO for this group and model, then its PROOF); any frame out of order, any header the
 * model does not allow, or a handshake not done in time closes it with one WARNING line.
 *
 * <p>Expert compute runs on its own thread: never on the event loop, and never on the engine's thread, which may itself
 * be waiting for a peer (two shards waiting on each other's engine threads would deadlock). A connection has at most
 * {@link #MAX_IN_FLIGHT} dispatches queued or running, and its answers must be read: beyond that its socket stops being
 * read until one is answered and the answers drain, so one peer cannot fill the queue ahead of the others or the heap.
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ExpertServer.class.getName());
    /** A peer's engine has at most two dispatches out (two micro-batches with two-batch overlap); a little slack costs nothing. */
    static final int MAX_IN_FLIGHT = 4;
    static final long HANDSHAKE_TIMEOUT_MS = 5000;

    private final Vertx vertx;
    private final PeerExperts experts;
    private final ShardIdentity self;
    private final int shards;
    private final PeerKey key;
    private final Frame.Limits limits;
    private final Timer expertCompute;
    private final ExecutorService compute = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "nuri-expert-server");
        t.setDaemon(true);
        return t;
    });
    private NetServer server;
    private volatile long lastDispatchNanos = System.nanoTime();

    /**
     * @param shards shards in the group: a peer's shard index must be another one of them
     */
    public ExpertServer(Vertx vertx, PeerExperts experts, ShardIdentity self, int shards, PeerKey key, Frame.Limits limits,
                        Timer expertCompute) {
        this.vertx = vertx;
        this.experts = experts;
        this.self = self;
        this.shards = shards;
        this.key = key;
        this.limits = limits;
        this.expertCompute = expertCompute;
    }

    /** When a peer last asked for this shard's experts ({@link System#nanoTime()}). */
    public long lastDispatchNanos() {
        return lastDispatchNanos;
    }

    public Future<NetServer> listen(String bindHost, int port) {
        server = vertx.createNetServer(new NetServerOptions().setHost(bindHost).setPort(port).setTcpNoDelay(true));
        server.connectHandler(Connection::new);
        return server.listen();
    }

    /** One peer connection: the handshake, then dispatches. Runs on its event loop. */
    private final class Connection {
        private final NetSocket socket;
        private final Context context = vertx.getOrCreateContext();
        private final long handshakeTimer;
        private Frame.Hello peerHello;
        private Frame.Hello ownHello;
        private boolean authenticated;
        private boolean closed;
        private int inFlight;

        Connection(NetSocket socket) {
            this.socket = socket;
            socket.handler(new FrameReader(() -> authenticated ? limits.maxFrameBytes() : Frame.HANDSHAKE_MAX_BYTES,
                    limits, this::onFrame, bad -> refuse(bad.getMessage())));
            socket.exceptionHandler(e -> refuse(String.valueOf(e.getMessage())));
            socket.closeHandler(v -> closed = true);
            handshakeTimer = vertx.setTimer(HANDSHAKE_TIMEOUT_MS, id -> {
                if (!authenticated) refuse("no handshake within " + HANDSHAKE_TIMEOUT_MS + " ms");
            });
        }

        private void onFrame(Frame frame) {
            if (closed) return;
            switch (frame) {
                case Frame.Hello hello when peerHello == null -> {
                    if (hello.group() != self.group() || hello.modelFingerprint() != self.modelFingerprint()) {
                        refuse("HELLO for group " + hello.group() + ", model " + Long.toHexString(hello.modelFingerprint())
                                + "; this is group " + self.group() + ", model " + Long.toHexString(self.modelFingerprint()));
                        return;
                    }
                    if (hello.shard() < 0 || hello.shard() >= shards || hello.shard() == self.shard()) {
                        refuse("HELLO from shard " + hello.shard() + ", not another shard of a group of " + shards);
                        return;
                    }
                    peerHello = hello;
                    ownHello = self.answer(hello, key);
                    socket.write(Buffer.buffer(ownHello.encode()));
                }
                case Frame.Proof proof when peerHello != null && !authenticated -> {
                    if (!PeerKey.matches(key.clientProof(peerHello, ownHello), proof.proof())) {
                        refuse("wrong PROOF from shard " + peerHello.shard() + ": it does not hold this group's peer key");
                        return;
                    }
                    authenticated = true;
                    vertx.cancelTimer(handshakeTimer);
                }
                case Frame.Dispatch dispatch when authenticated -> serve(dispatch);
                default -> refuse("unexpected " + frame.getClass().getSimpleName().toUpperCase(java.util.Locale.ROOT)
                        + (authenticated ? "" : " before the handshake was done"));
            }
        }

        private void serve(Frame.Dispatch dispatch) {
            lastDispatchNanos = System.nanoTime();
            if (++inFlight >= MAX_IN_FLIGHT) socket.pause();
            compute.execute(() -> {
                Frame answer;
                try {
                    long start = System.nanoTime();
                    float[] partial = experts.compute(dispatch);
                    expertCompute.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                    answer = new Frame.Combine(dispatch.callId(), dispatch.layer(), dispatch.dtype(), dispatch.tokens(),
                            dispatch.hidden(), partial);
                } catch (RuntimeException e) {
                    LOG.warning("expert compute for peer shard " + peerHello.shard() + " failed: " + e.getMessage());
                    answer = new Frame.Failure(dispatch.callId(), String.valueOf(e.getMessage()));
                }
                Buffer bytes = Buffer.buffer(answer.encode());
                context.runOnContext(v -> {
                    if (closed) return;
                    socket.write(bytes);
                    inFlight--;
                    if (socket.writeQueueFull()) {
                        socket.pause(); // a peer that does not read its answers gets no more work
                        socket.drainHandler(d -> resumeIfRoom());
                    } else {
                        resumeIfRoom();
                    }
                });
            });
        }

        private void resumeIfRoom() {
            if (!closed && inFlight < MAX_IN_FLIGHT && !socket.writeQueueFull()) socket.resume();
        }

        /** One WARNING line per refused connection (no stack trace), then it is closed. */
        private void refuse(String why) {
            if (closed) return;
            closed = true;
            vertx.cancelTimer(handshakeTimer);
            LOG.warning("peer connection from " + socket.remoteAddress() + " closed: " + why);
            socket.close();
        }
    }

    public int actualPort() {
        return server.actualPort();
    }

    @Override
    public void close() {
        if (server != null) server.close();
        compute.shutdownNow();
    }
}
