package dev.nuri.operator.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on 127.0.0.1 in front of a server (TLS passes through unchanged), that a test can sever and restore: a
 * network path dropped while both ends keep running. Severed, every relayed connection is closed and every new one is
 * closed as soon as it is accepted (the client sees its connection reset), and counted.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final InetSocketAddress upstream;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger refused = new AtomicInteger();
    private volatile boolean severed;

    public TcpProxy(String upstreamHost, int upstreamPort) throws IOException {
        this.upstream = new InetSocketAddress(upstreamHost, upstreamPort);
        this.listener = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("tcp-proxy-" + listener.getLocalPort()).start(this::acceptLoop);
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** Closes every relayed connection; until {@link #restore()}, connections are closed as soon as accepted. */
    public void sever() {
        severed = true;
        refused.set(0);
        open.forEach(TcpProxy::closeQuietly);
    }

    public void restore() {
        severed = false;
    }

    /** Connections refused since the last {@link #sever()}: the client's attempts to get through. */
    public int refused() {
        return refused.get();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            if (severed) {
                refused.incrementAndGet();
                closeQuietly(client);
                continue;
            }
            Thread.ofVirtual().start(() -> relay(client));
        }
    }

    private void relay(Socket client) {
        Socket server = new Socket();
        open.add(client);
        open.add(server);
        if (severed) { // severed since accept: sever() may not have seen these two
            closeBoth(client, server);
            return;
        }
        try {
            server.connect(upstream, 5_000);
            Thread.ofVirtual().start(() -> pump(server, client));
            pump(client, server);
        } catch (IOException e) {
            closeBoth(client, server);
        }
    }

    /** Copies one direction until either side closes, then closes both. */
    private void pump(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            byte[] buffer = new byte[16 << 10];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // severed, or the other side went away
        } finally {
            closeBoth(from, to);
        }
    }

    private void closeBoth(Socket a, Socket b) {
        closeQuietly(a);
        closeQuietly(b);
        open.remove(a);
        open.remove(b);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException e) {
            // already closed
        }
        open.forEach(TcpProxy::closeQuietly);
    }
}
