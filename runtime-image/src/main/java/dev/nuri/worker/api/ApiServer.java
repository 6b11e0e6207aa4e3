package dev.nuri.worker.api;

import dev.nuri.worker.engine.Engine;
import dev.nuri.worker.engine.EngineRejectedException;
import dev.nuri.worker.engine.Generation;
import dev.nuri.worker.engine.GenerationSpec;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.tokenizer.ChatTemplate;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The shard's HTTP surface: the OpenAI-compatible API (vLLM's flavour), tokenization, health and metrics. Handlers
 * only validate, tokenize and hand requests to the {@link Engine}; they never compute.
 */
public final class ApiServer {
    private static final Logger LOG = Logger.getLogger(ApiServer.class.getName());
    public static final String REQUEST_ID = "X-Request-Id";
    /** Paths that stay open when an API key is set: probes and Prometheus. */
    static final Set<String> OPEN_PATHS = Set.of("/health", "/health/live", "/health/ready", "/metrics");

    /** What exists once the model is loaded. */
    public record Serving(String modelName, ModelTokenizer tokenizer, Engine engine, int defaultChatMaxTokens) {}

    private final Vertx vertx;
    private final WorkerMetrics metrics;
    private final Supplier<String> notReadyReason;
    private final long maxBodyBytes;
    private final Runnable beforeScrape;
    private final byte[] apiKeyDigest;
    private volatile Serving serving;
    private volatile RequestParser parser;
    private HttpServer server;

    /**
     * @param notReadyReason null when serving-ready, else why not (loading, a peer missing, draining)
     * @param apiKey null: the API is open; else every request outside {@link #OPEN_PATHS} must send
     *               {@code Authorization: Bearer <apiKey>} (only its SHA-256 is kept)
     */
    public ApiServer(Vertx vertx, WorkerMetrics metrics, Supplier<String> notReadyReason, long maxBodyBytes, Runnable beforeScrape,
                     String apiKey) {
        this.vertx = vertx;
        this.apiKeyDigest = apiKey == null ? null : sha256(apiKey);
        this.metrics = metrics;
        this.notReadyReason = notReadyReason;
        this.maxBodyBytes = maxBodyBytes;
        this.beforeScrape = beforeScrape;
    }

    public void serving(Serving s) {
        ModelTokenizer t = s.tokenizer();
        ChatTemplate template = t.chatTemplate() == null ? null : new ChatTemplate(t.chatTemplate(), t.bosToken(), t.eosToken());
        this.parser = new RequestParser(t, template, s.modelName(), s.engine().contextLength(), s.defaultChatMaxTokens());
        this.serving = s;
    }

    /** The method each route answers, for 405 responses (kept beside the routes below). */
    private static final java.util.Map<String, String> ALLOWED_METHODS = java.util.Map.of(
            "/health", "GET", "/health/live", "GET", "/health/ready", "GET", "/metrics", "GET", "/v1/models", "GET",
            "/v1/completions", "POST", "/v1/chat/completions", "POST", "/tokenize", "POST", "/detokenize", "POST");

    public Future<HttpServer> listen(String host, int port) {
        Router router = Router.router(vertx);
        router.route().handler(ctx -> {
            String id = ctx.request().getHeader(REQUEST_ID);
            if (id == null || id.isBlank() || id.length() > 128) id = UUID.randomUUID().toString().replace("-", "");
            ctx.put(REQUEST_ID, id);
            ctx.response().putHeader(REQUEST_ID, id);
            ctx.next();
        });
        if (apiKeyDigest != null) router.route().handler(this::authenticate);
        router.route().handler(BodyHandler.create(false).setBodyLimit(maxBodyBytes));
        router.get("/health").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "ok")));
        router.get("/health/live").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "ok")));
        router.get("/health/ready").handler(this::ready);
        router.get("/metrics").handler(ctx -> {
            beforeScrape.run();
            ctx.response().putHeader("Content-Type", WorkerMetrics.CONTENT_TYPE).end(metrics.scrape());
        });
        router.get("/v1/models").handler(this::models);
        router.post("/v1/completions").handler(ctx -> generate(ctx, false));
        router.post("/v1/chat/completions").handler(ctx -> generate(ctx, true));
        router.post("/tokenize").handler(this::tokenize);
        router.post("/detokenize").handler(this::detokenize);
        router.route().last().handler(ctx -> {
            String allowed = ALLOWED_METHODS.get(ctx.request().path());
            if (allowed != null) { // a known path asked with the wrong method
                ctx.response().putHeader("Allow", allowed);
                throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                        ctx.request().method() + " is not allowed on " + ctx.request().path() + "; use " + allowed, null);
            }
            throw new ApiException(404, "invalid_request_error", null, "not_found",
                    "no route for " + ctx.request().method() + " " + ctx.request().path(), null);
        });
        router.route().failureHandler(this::failure);
        server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port).setCompressionSupported(false));
        return server.requestHandler(router).listen();
    }

    public int actualPort() {
        return server.actualPort();
    }

    public Future<Void> close() {
        return server == null ? Future.succeededFuture() : server.close();
    }

    /** Bearer-token check, in constant time (digests of equal length compared with MessageDigest.isEqual). */
    private void authenticate(RoutingContext ctx) {
        if (OPEN_PATHS.contains(ctx.normalizedPath())) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        String presented = null;
        if (header != null && header.length() > 7 && header.regionMatches(true, 0, "Bearer ", 0, 7)) presented = header.substring(7).trim();
        if (presented != null && MessageDigest.isEqual(sha256(presented), apiKeyDigest)) {
            ctx.next();
            return;
        }
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", presented == null
                ? "You didn't provide an API key. Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY)."
                : "Incorrect API key provided.", null);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void ready(RoutingContext ctx) {
        String reason = notReadyReason.get();
        if (reason == null) json(ctx, 200, new JsonObject().put("status", "ready"));
        else json(ctx, 503, new JsonObject().put("status", "not ready").put("reason", reason));
    }

    private void models(RoutingContext ctx) {
        Serving s = loaded();
        JsonObject model = new JsonObject().put("id", s.modelName()).put("object", "model").put("created", 0)
                .put("owned_by", "nuri").put("root", s.modelName()).put("max_model_len", s.engine().contextLength());
        json(ctx, 200, new JsonObject().put("object", "list").put("data", new JsonArray().add(model)));
    }

    private void generate(RoutingContext ctx, boolean chat) {
        Serving s = loaded();
        String reason = notReadyReason.get();
        if (reason != null) throw ApiException.unavailable("not ready to serve: " + reason);
        JsonObject body = body(ctx);
        ParsedRequest request = chat ? parser.chat(body) : parser.completion(body);
        String requestId = ctx.get(REQUEST_ID);
        String id = (chat ? "chatcmpl-" : "cmpl-") + requestId;
        ResponseStream stream = new ResponseStream(vertx.getOrCreateContext(), ctx.response(), request, s.tokenizer(), id, s.modelName());
        Generation g;
        try {
            g = s.engine().submit(new GenerationSpec(requestId, request.prompts(), request.n(), request.params(), System.nanoTime()), stream);
        } catch (EngineRejectedException e) {
            throw Errors.of(e.failure());
        }
        ctx.response().closeHandler(v -> {
            stream.clientClosed();
            s.engine().cancel(g);
        });
    }

    private void tokenize(RoutingContext ctx) {
        Serving s = loaded();
        JsonObject body = body(ctx);
        RequestFields f = new RequestFields(body);
        parser.checkModel(f);
        int[] ids;
        if (f.has("messages")) {
            ParsedRequest r = parser.chat(body.copy().put("max_tokens", 1));
            ids = r.prompts().get(0);
        } else {
            String prompt = f.string("prompt");
            if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' (a string) or 'messages' is required");
            Boolean add = f.bool("add_special_tokens");
            ids = s.tokenizer().encode(prompt, add == null || add);
        }
        JsonArray tokens = new JsonArray();
        JsonArray strs = new JsonArray();
        for (int id : ids) {
            tokens.add(id);
            strs.add(s.tokenizer().tokenString(id));
        }
        json(ctx, 200, new JsonObject().put("count", ids.length).put("max_model_len", s.engine().contextLength())
                .put("tokens", tokens).put("token_strs", strs));
    }

    private void detokenize(RoutingContext ctx) {
        Serving s = loaded();
        RequestFields f = new RequestFields(body(ctx));
        parser.checkModel(f);
        JsonArray tokens = f.array("tokens");
        if (tokens == null) throw ApiException.badRequest("tokens", "'tokens' (an array of token ids) is required");
        int[] ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!(tokens.getValue(i) instanceof Number n) || !s.tokenizer().isValidId(n.intValue())) {
                throw ApiException.badRequest("tokens", "tokens[" + i + "] = " + tokens.getValue(i) + " is not a token id of this model");
            }
            ids[i] = n.intValue();
        }
        json(ctx, 200, new JsonObject().put("prompt", s.tokenizer().decode(ids, false)));
    }

    private Serving loaded() {
        Serving s = serving;
        if (s == null) throw ApiException.unavailable("the model is still loading");
        return s;
    }

    private static JsonObject body(RoutingContext ctx) {
        if (ctx.body() == null || ctx.body().length() == 0) throw ApiException.badRequest(null, "the request body is empty; send a JSON object");
        try {
            Object v = io.vertx.core.json.Json.decodeValue(ctx.body().buffer());
            if (v instanceof JsonObject o) return o;
            throw ApiException.badRequest(null, "the request body must be a JSON object");
        } catch (DecodeException e) {
            throw ApiException.badRequest(null, "the request body is not valid JSON: " + e.getMessage());
        }
    }

    private static void json(RoutingContext ctx, int status, JsonObject body) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
    }

    private void failure(RoutingContext ctx) {
        Throwable t = ctx.failure();
        ApiException e;
        if (t instanceof ApiException api) {
            e = api;
        } else if (ctx.statusCode() == 413) {
            e = new ApiException(413, "invalid_request_error", null, "request_too_large",
                    "the request body is larger than " + maxBodyBytes + " bytes", null);
        } else if (ctx.statusCode() > 0 && ctx.statusCode() < 500 && t == null) {
            e = new ApiException(ctx.statusCode(), "invalid_request_error", null, null, "request failed with status " + ctx.statusCode(), null);
        } else {
            LOG.log(Level.SEVERE, "request " + ctx.get(REQUEST_ID) + " failed", t);
            e = new ApiException(500, "server_error", null, "internal_error", "internal error: " + t, null);
        }
        Errors.send(ctx.response(), e);
    }
}
