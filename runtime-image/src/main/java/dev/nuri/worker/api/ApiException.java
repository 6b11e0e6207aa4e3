package dev.nuri.worker.api;

import io.vertx.core.json.JsonObject;

/** An error a client caused (or must wait out), rendered as OpenAI's {@code {"error": {...}}} with its HTTP status. */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Integer retryAfterSeconds;

    public ApiException(int status, String type, String param, String code, String message, Integer retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public static ApiException badRequest(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message, null);
    }

    public static ApiException unsupported(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "unsupported_parameter", message, null);
    }

    public static ApiException unavailable(String message) {
        return new ApiException(503, "service_unavailable_error", null, "service_unavailable", message, 1);
    }

    public int status() {
        return status;
    }

    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }

    public JsonObject toJson() {
        return new JsonObject().put("error", new JsonObject().put("message", getMessage()).put("type", type)
                .put("param", param).put("code", code));
    }
}
