package dev.nuri.operator.observability;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/** /metrics (Prometheus), /healthz (process alive) and /readyz (informers synced, leading or standby). */
public final class OperatorHttpServer implements AutoCloseable {

    private final HttpServer server;

    public OperatorHttpServer(String host, int port, PrometheusMeterRegistry registry, BooleanSupplier ready) throws IOException {
        server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/metrics", ex -> respond(ex, 200, registry.scrape(), "text/plain; version=0.0.4"));
        server.createContext("/healthz", ex -> respond(ex, 200, "ok\n", "text/plain"));
        server.createContext("/readyz", ex -> {
            boolean ok = ready.getAsBoolean();
            respond(ex, ok ? 200 : 503, ok ? "ok\n" : "not ready\n", "text/plain");
        });
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, int status, String body, String type) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
