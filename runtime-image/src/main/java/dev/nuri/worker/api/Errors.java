package dev.nuri.worker.api;

import dev.nuri.worker.engine.EngineFailure;
import io.vertx.core.http.HttpServerResponse;

/** Maps failures to OpenAI error responses. */
final class Errors {
    private Errors() {}

    static ApiException of(EngineFailure failure) {
        return switch (failure.kind()) {
            case QUEUE_FULL -> new ApiException(429, "rate_limit_error", null, "queue_full", failure.message(), 1);
            case UNAVAILABLE -> ApiException.unavailable(failure.message());
            case TOO_LARGE -> new ApiException(400, "invalid_request_error", "max_tokens", "kv_cache_budget_exceeded", failure.message(), null);
            case INTERNAL -> new ApiException(500, "server_error", null, "internal_error", failure.message(), null);
        };
    }

    static void send(HttpServerResponse response, ApiException e) {
        if (response.ended() || response.closed()) return;
        response.setStatusCode(e.status()).putHeader("Content-Type", "application/json");
        if (e.retryAfterSeconds() != null) response.putHeader("Retry-After", Integer.toString(e.retryAfterSeconds()));
        response.end(e.toJson().encode());
    }
}
