package dev.nuri.worker.transport;

import dev.nuri.worker.moe.ExpertHost;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves this shard's experts to the peers of its group. Expert compute runs on its own thread: never on the event
 * loop, and never on the engine's thread, which may itself be waiting for a peer (two shards waiting on each other's
 * engine threads would deadlock).
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ExpertServer.class.getName());

    private final Vertx vertx;
    private final ExpertHost host;
    private final int shardIndex;
    private final int groupIndex;
    private final Timer expertCompute;
    private final ExecutorService compute = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "nuri-expert-server");
        t.setDaemon(true);
        return t;
    });
    private NetServer server;

    public ExpertServer(Vertx vertx, ExpertHost host, int shardIndex, int groupIndex, Timer expertCompute) {
        this.vertx = vertx;
        this.host = host;
        this.shardIndex = shardIndex;
        this.groupIndex = groupIndex;
        this.expertCompute = expertCompute;
    }

    public Future<NetServer> listen(String bindHost, int port) {
        server = vertx.createNetServer(new NetServerOptions().setHost(bindHost).setPort(port).setTcpNoDelay(true));
        server.connectHandler(socket -> socket.handler(new FrameReader(frame -> onFrame(socket, frame))));
        return server.listen();
    }

    private void onFrame(NetSocket socket, DispatchFrame frame) {
        switch (frame.kind()) {
            case HELLO -> {
                if (frame.hidden() != groupIndex) {
                    socket.write(DispatchFrame.failure(0, "this is group " + groupIndex + ", not " + frame.hidden()).encode());
                    socket.close();
                    return;
                }
                socket.write(DispatchFrame.hello(shardIndex, groupIndex, 0).encode());
            }
            case DISPATCH -> compute.execute(() -> {
                DispatchFrame answer;
                try {
                    long start = System.nanoTime();
                    float[] partial = host.compute(frame.layer(), frame.tokens(), frame.hidden(), frame.counts(),
                            frame.experts(), frame.weights(), frame.vectors());
                    expertCompute.record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
                    answer = DispatchFrame.combine(frame.dtype(), frame.layer(), frame.callId(), frame.tokens(), frame.hidden(), partial);
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "expert compute failed", e);
                    answer = DispatchFrame.failure(frame.callId(), String.valueOf(e.getMessage()));
                }
                socket.write(answer.encode());
            });
            default -> LOG.warning("unexpected " + frame.kind() + " frame from a peer");
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
