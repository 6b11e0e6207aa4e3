package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Serves this shard's experts to the peers of its group. A connection is served only after the handshake of
 * {@link PeerKey} (the peer's HELLO for this group and model, then its PROOF); any frame out of order, any header the
 * model does not allow, or a handshake not done in time closes it with one WARNING line.
 *
 * <p>The peer connections have an event loop of their own (a Vert.x instance with one loop, not the shard's HTTP
 * loops), and a dispatch is computed on it as soon as its frame is read, its answer written from the same thread: no
 * hand-off to a compute thread and back to the loop (issue 15: two of the four thread hand-offs of an expert call).
 * One loop computes one dispatch at a time, as the single compute thread did before; HTTP, probes and metrics never
 * wait for it, and neither does the engine's thread, which may itself be waiting for a peer (two shards waiting on
 * each other's engine threads would deadlock). A connection whose answers are not read stops being read once its
 * write queue is full, until they drain, so one peer cannot take the loop from the others or fill the heap.
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ExpertServer.class.getName());
    static final long HANDSHAKE_TIMEOUT_MS = 5000;

    /** the peer connections' own event loop: expert compute runs on it */
    private final Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1)
            .setInternalBlockingPoolSize(1).setMaxEventLoopExecuteTime(Long.MAX_VALUE)); // computing on it is its job
    private final PeerExperts experts;
    private final ShardIdentity self;
    private final int shards;
    private final PeerKey key;
    private final Frame.Limits limits;
    private final Timer expertCompute;
    private final java.util.function.ObjIntConsumer<String> peerAuthenticated;
    private NetServer server;
    private volatile long lastDispatchNanos = System.nanoTime();

    /**
     * @param shards shards in the group: a peer's shard index must be another one of them
     * @param peerAuthenticated told the address and shard of each peer connection that proved it holds the key
     */
    public ExpertServer(PeerExperts experts, ShardIdentity self, int shards, PeerKey key, Frame.Limits limits,
                        Timer expertCompute, java.util.function.ObjIntConsumer<String> peerAuthenticated) {
        this.experts = experts;
        this.self = self;
        this.shards = shards;
        this.key = key;
        this.limits = limits;
        this.expertCompute = expertCompute;
        this.peerAuthenticated = peerAuthenticated;
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
        private final long handshakeTimer;
        private Frame.Hello peerHello;
        private Frame.Hello ownHello;
        private boolean authenticated;
        private boolean closed;

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
                    peerAuthenticated.accept(socket.remoteAddress().host(), peerHello.shard());
                }
                case Frame.Dispatch dispatch when authenticated -> serve(dispatch);
                default -> refuse("unexpected " + frame.getClass().getSimpleName().toUpperCase(java.util.Locale.ROOT)
                        + (authenticated ? "" : " before the handshake was done"));
            }
        }

        /** Computes the dispatch here, on the loop that read it, and writes the answer. */
        private void serve(Frame.Dispatch dispatch) {
            lastDispatchNanos = System.nanoTime();
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
            socket.write(Buffer.buffer(answer.encode()));
            if (socket.writeQueueFull()) {
                socket.pause(); // a peer that does not read its answers gets no more work
                socket.drainHandler(d -> {
                    if (!closed) socket.resume();
                });
            }
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
        vertx.close(); // the server and its connections with it
    }
}
