package dev.nuri.worker.batch;

import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * Where a batch's requests go: a worker's OpenAI API over HTTP (this shard's own port for the Batch API, a
 * ModelDeployment's Service for run-batch), each marked {@code X-Nuri-Priority: batch} so the engine serves it behind
 * interactive requests. Refusals that pass (429, 503, no connection: a shard restarting or busy) are retried with
 * backoff for up to {@code retryFor}; any other answer is the request's result.
 */
public final class ModelEndpoint {
    /** The answer to one request: its HTTP status and JSON body, or null status when none came within the retries. */
    public record Answer(int status, String requestId, JsonObject body) {}

    private final URI base;
    private final String apiKey;
    private final Duration retryFor;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    /** @param base e.g. http://127.0.0.1:8000; @param apiKey sent as a Bearer token, or null */
    public ModelEndpoint(URI base, String apiKey, Duration retryFor) {
        this.base = base;
        this.apiKey = apiKey;
        this.retryFor = retryFor;
    }

    /**
     * Sends one request. {@code stop} (the batch was cancelled or expired, the process is stopping) ends the retries
     * early and abandons a request in flight (the connection is closed, so the server stops generating it): then the
     * answer is null and the request counts as not sent.
     */
    public Answer send(String path, JsonObject body, String requestId, BooleanSupplier stop) throws InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofMinutes(30))
                .header("Content-Type", "application/json").header("X-Nuri-Priority", "batch").header("X-Request-Id", requestId)
                .POST(HttpRequest.BodyPublishers.ofString(body.encode()));
        if (apiKey != null) request.header("Authorization", "Bearer " + apiKey);
        long deadline = System.nanoTime() + retryFor.toNanos();
        long backoffMs = 250;
        String last;
        while (true) {
            CompletableFuture<HttpResponse<String>> call = client.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString());
            try {
                HttpResponse<String> r = null;
                while (r == null) {
                    try {
                        r = call.get(200, TimeUnit.MILLISECONDS);
                    } catch (TimeoutException e) {
                        if (stop.getAsBoolean()) {
                            call.cancel(true);
                            return null;
                        }
                    }
                }
                if (r.statusCode() != 429 && r.statusCode() != 503) return new Answer(r.statusCode(), requestId, json(r.body(), r.statusCode()));
                last = "HTTP " + r.statusCode() + ": " + r.body();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof java.io.IOException)) throw new IllegalStateException("request to " + base + " failed", e.getCause());
                last = "no answer from " + base + ": " + e.getCause();
            } catch (InterruptedException e) {
                call.cancel(true);
                throw e;
            }
            if (stop.getAsBoolean()) return null; // not answered: sent again when the batch resumes
            if (System.nanoTime() > deadline) {
                return new Answer(0, requestId, new JsonObject().put("error", new JsonObject().put("message",
                        "gave up after " + retryFor.toSeconds() + " s of retries; last: " + last).put("type", "server_error")
                        .putNull("param").put("code", "batch_request_unanswered")));
            }
            Thread.sleep(backoffMs); // a backoff between retries, not a wait for a condition
            backoffMs = Math.min(5000, backoffMs * 2);
        }
    }

    private static JsonObject json(String text, int status) {
        try {
            return new JsonObject(text);
        } catch (RuntimeException e) { // not the worker's JSON (a proxy's page): keep it as an error message
            return new JsonObject().put("error", new JsonObject().put("message", "HTTP " + status + " with a body that is not JSON: "
                    + text.substring(0, Math.min(500, text.length()))).put("type", "server_error").putNull("param").putNull("code"));
        }
    }
}
