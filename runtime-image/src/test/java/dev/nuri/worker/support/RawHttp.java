package dev.nuri.worker.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** HTTP/1.1 over a plain socket, for what java.net.http cannot do: half-close, stall, send garbage, time a probe. */
public final class RawHttp implements AutoCloseable {
    public final Socket socket;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();

    private RawHttp(Socket socket) {
        this.socket = socket;
    }

    /** @param receiveBuffer 0 for the system default; small values make a client that stops reading stall the server sooner */
    public static RawHttp connect(int port, int receiveBuffer) {
        try {
            Socket s = new Socket();
            if (receiveBuffer > 0) s.setReceiveBufferSize(receiveBuffer);
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            return new RawHttp(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static RawHttp connect(int port) {
        return connect(port, 0);
    }

    public RawHttp send(String text) {
        try {
            socket.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A POST that asks the server to close the connection after answering. */
    public static String post(String path, String contentType, String body) {
        return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + contentType + "\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body;
    }

    /** The same, kept alive: only the client's half-close (or a timeout) ends the connection. */
    public static String postKeepAlive(String path, String body) {
        return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    /** Everything the server sends until it closes the connection or {@code timeout} passes without a byte. */
    public String readUntilClosed(Duration timeout) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            socket.setSoTimeout((int) timeout.toMillis());
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) >= 0; ) out.write(buf, 0, n);
        } catch (SocketTimeoutException e) {
            // the server kept the connection open
        } catch (IOException e) {
            // reset by the server: counts as closed
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * True once the server has closed its side: a read returns end of stream (or the connection was reset). What
     * arrives before is kept in {@link #received}.
     */
    public boolean closedByServer() {
        try {
            socket.setSoTimeout(50);
            byte[] buf = new byte[8192];
            for (int n; (n = socket.getInputStream().read(buf)) != 0; ) {
                if (n < 0) return true;
                received.write(buf, 0, n);
            }
            return false;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** What {@link #closedByServer} has read so far. */
    public String received() {
        return received.toString(StandardCharsets.UTF_8);
    }

    /**
     * Time for {@code GET /health/live} on a fresh connection (so probes land on every event loop) to answer 200;
     * a probe still unanswered after {@code patience} counts as {@code patience} plus 1 ms.
     */
    public static Duration timeLiveness(int port, Duration patience) {
        long start = System.nanoTime();
        try (RawHttp c = connect(port)) {
            c.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            String reply = c.readUntilClosed(patience);
            if (reply.isEmpty()) return patience.plusMillis(1);
            if (!reply.startsWith("HTTP/1.1 200")) throw new AssertionError("liveness answered " + reply);
            return Duration.ofNanos(System.nanoTime() - start);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }
}
