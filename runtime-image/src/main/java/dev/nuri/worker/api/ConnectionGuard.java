package dev.nuri.worker.api;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * What Vert.x's HTTP server does not bound by itself: how long a connection may sit idle, how long a request may
 * take to arrive, how many connections are open; and, when enabled, a client that half-closes after sending still
 * gets its answer.
 *
 * <p>Vert.x's own idle timeout also fires while a request waits for the engine (no bytes either way), so the timers
 * here run only while no request is under way. They need to see the first byte of a request, which only the Netty
 * pipeline shows: {@link #attach} adds one handler in front of Vert.x's.
 */
final class ConnectionGuard {
    private static final Logger LOG = Logger.getLogger(ConnectionGuard.class.getName());

    private final Duration requestReadTimeout;
    private final Duration idleTimeout;
    private final int maxConnections;
    private final boolean halfClose;
    private final AtomicInteger open = new AtomicInteger();
    private volatile long lastCapWarning;

    ConnectionGuard(Duration requestReadTimeout, Duration idleTimeout, int maxConnections, boolean halfClose) {
        this.requestReadTimeout = requestReadTimeout;
        this.idleTimeout = idleTimeout;
        this.maxConnections = maxConnections;
        this.halfClose = halfClose;
    }

    int openConnections() {
        return open.get();
    }

    /** For {@code HttpServer.connectionHandler}: closes a connection over the cap, else starts watching it. */
    void attach(HttpConnection connection) {
        Channel channel = ((ConnectionBase) connection).channel();
        int now = open.incrementAndGet();
        channel.closeFuture().addListener(f -> open.decrementAndGet());
        if (now > maxConnections) {
            long t = System.nanoTime();
            if (t - lastCapWarning > TimeUnit.SECONDS.toNanos(10)) {
                lastCapWarning = t;
                LOG.warning("HTTP connection limit of " + maxConnections + " reached; closing new connections (--http-max-connections)");
            }
            channel.close();
            return;
        }
        if (halfClose) channel.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true); // else Netty closes on FIN
        channel.pipeline().addFirst(Watch.NAME, new Watch());
    }

    /** A request has been read whole: no timer while it is served. */
    static void requestRead(HttpConnection connection) {
        Watch w = watch(connection);
        if (w != null) w.requestRead();
    }

    /** The response has been sent: the connection waits for the next request, or closes if the client half-closed. */
    static void responseEnded(HttpConnection connection) {
        Watch w = watch(connection);
        if (w != null) w.responseEnded();
    }

    private static Watch watch(HttpConnection connection) {
        return connection instanceof ConnectionBase c ? (Watch) c.channel().pipeline().get(Watch.NAME) : null;
    }

    /** One connection's state; every method runs on the connection's event loop. */
    private final class Watch extends ChannelInboundHandlerAdapter {
        static final String NAME = "nuri-connection-guard";
        private enum State { IDLE, READING, SERVING, DRAINING }

        private ChannelHandlerContext ctx;
        private State state = State.IDLE;
        private boolean inputShutdown;
        private ScheduledFuture<?> timer;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            arm(idleTimeout);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (state == State.IDLE || state == State.DRAINING) {
                state = State.READING;
                arm(requestReadTimeout);
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShutdown = true;
                if (state == State.IDLE) ctx.close(); // nothing asked, nothing more can come
                // READING: the request may be complete and not yet handed over; the read timeout closes it otherwise
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            cancel();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancel();
            ctx.fireChannelInactive();
        }

        void requestRead() {
            if (!ctx.executor().inEventLoop()) {
                ctx.executor().execute(this::requestRead);
                return;
            }
            state = State.SERVING;
            cancel();
        }

        void responseEnded() {
            if (!ctx.executor().inEventLoop()) {
                ctx.executor().execute(this::responseEnded);
                return;
            }
            if (inputShutdown) {
                state = State.IDLE;
                // let the response reach the client first, then close
                ctx.channel().writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(f -> ctx.close());
                return;
            }
            // The response may still sit in Netty's outbound buffer (a client that does not read; Vert.x calls this
            // before it queues a last write): it must be taken within the read timeout, as a request must arrive
            // within it. Then the connection is idle, or closed if the client took nothing more meanwhile.
            state = State.DRAINING;
            arm(requestReadTimeout);
        }

        /** The read timeout ran out while draining: idle if the response left Netty's buffer, else give up. */
        private void drainTimedOut() {
            ChannelOutboundBuffer pending = ctx.channel().unsafe().outboundBuffer();
            if (pending != null && pending.totalPendingWriteBytes() > 0) {
                ctx.close();
                return;
            }
            state = State.IDLE;
            arm(idleTimeout);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // a draining client that takes bytes again gets a fresh read timeout: slow is fine, stalled is not
            if (state == State.DRAINING && ctx.channel().isWritable()) arm(requestReadTimeout);
            ctx.fireChannelWritabilityChanged();
        }

        private void arm(Duration timeout) {
            cancel();
            timer = ctx.executor().schedule(() -> {
                if (state == State.DRAINING) drainTimedOut();
                else if (state != State.SERVING) ctx.close();
            }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        private void cancel() {
            if (timer != null) timer.cancel(false);
            timer = null;
        }
    }
}
