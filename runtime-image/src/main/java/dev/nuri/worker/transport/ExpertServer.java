package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import io.micrometer.core.instrument.Timer;
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
 * Serves this shard's experts to the peers of its group. Expert compute runs on its own thread: never on the event
 * loop, and never on the engine's thread, which may itself be waiting for a peer (two shards waiting on each other's
 * engine threads would deadlock).
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ExpertServer.class.getName());

    private final Vertx vertx;
    private final PeerExperts experts;
    private final Frame.Hello self;
    private final Frame.Limits limits;
    private final Timer expertCompute;
    private final ExecutorService compute = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "nuri-expert-server");
        t.setDaemon(true);
        return t;
    });
    private NetServer server;

    /** @param self this shard's HELLO, sent back to a peer whose HELLO matches its group and model */
    public ExpertServer(Vertx vertx, PeerExperts experts, Frame.Hello self, Frame.Limits limits, Timer expertCompute) {
        this.vertx = vertx;
        this.experts = experts;
        this.self = self;
        this.limits = limits;
        this.expertCompute = expertCompute;
    }

    public Future<NetServer> listen(String bindHost, int port) {
        server = vertx.createNetServer(new NetServerOptions().setHost(bindHost).setPort(port).setTcpNoDelay(true));
        server.connectHandler(socket -> socket.handler(new FrameReader(limits, frame -> onFrame(socket, frame),
                bad -> refuse(socket, bad.getMessage()))));
        return server.listen();
    }

    private void onFrame(NetSocket socket, Frame frame) {
        switch (frame) {
            case Frame.Hello hello -> {
                if (hello.group() != self.group() || hello.modelFingerprint() != self.modelFingerprint()) {
                    refuse(socket, "HELLO for group " + hello.group() + " (model " + Long.toHexString(hello.modelFingerprint())
                            + "); this is group " + self.group() + " (model " + Long.toHexString(self.modelFingerprint()) + ")");
                    return;
                }
                socket.write(Buffer.buffer(self.encode()));
            }
            case Frame.Dispatch dispatch -> compute.execute(() -> {
                Frame answer;
                try {
                    long start = System.nanoTime();
                    float[] partial = experts.compute(dispatch);
                    expertCompute.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                    answer = new Frame.Combine(dispatch.callId(), dispatch.layer(), dispatch.dtype(), dispatch.tokens(),
                            dispatch.hidden(), partial);
                } catch (RuntimeException e) {
                    LOG.warning("expert compute for peer " + socket.remoteAddress() + " failed: " + e.getMessage());
                    answer = new Frame.Failure(dispatch.callId(), String.valueOf(e.getMessage()));
                }
                socket.write(Buffer.buffer(answer.encode()));
            });
            default -> refuse(socket, "unexpected " + frame.getClass().getSimpleName() + " frame");
        }
    }

    /** One WARNING line per refused peer connection, then the connection is closed. */
    private void refuse(NetSocket socket, String why) {
        LOG.warning("peer connection from " + socket.remoteAddress() + " refused: " + why);
        socket.close();
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
