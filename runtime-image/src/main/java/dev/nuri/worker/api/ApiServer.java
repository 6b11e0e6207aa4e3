package dev.nuri.worker.api;

import dev.nuri.worker.batch.BatchService;
import dev.nuri.worker.engine.Engine;
import dev.nuri.worker.engine.EngineRejectedException;
import dev.nuri.worker.engine.Generation;
import dev.nuri.worker.engine.GenerationSpec;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.structured.StructuredOutput;
import dev.nuri.worker.tokenizer.ChatTemplate;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.tools.ToolCallFormat;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The shard's HTTP surface: the OpenAI-compatible API (vLLM's flavour), tokenization, health and metrics. Handlers
 * only route and hand requests to the {@link Engine}; decoding bodies, rendering chat templates and tokenizing run
 * on a worker pool, so that a heavy request never delays another on the same event loop (liveness included).
 */
public final class ApiServer {
    private static final Logger LOG = Logger.getLogger(ApiServer.class.getName());
    public static final String REQUEST_ID = "X-Request-Id";
    /** routing-context key: System.nanoTime() when the request's headers reached the router */
    private static final String ARRIVAL = "nuri.arrival";
    /** {@code X-Nuri-Priority: batch} marks a request as batch work, served behind interactive ones (the Batch API and run-batch send it). */
    public static final String PRIORITY = "X-Nuri-Priority";
    public static final String BATCH_PRIORITY = "batch";
    /** Paths that stay open when an API key is set: probes and Prometheus. */
    static final int SEND_BUFFER_BYTES = 256 * 1024;
    static final Set<String> OPEN_PATHS = Set.of("/health", "/health/live", "/health/ready", "/metrics", "/openapi.json");
    /** The API's OpenAPI document (hand-written; OpenApiTest keeps it equal to the routes below). */
    static final Buffer OPENAPI = openApiDocument();

    /** What exists once the model is loaded. */
    public record Serving(String modelName, ModelTokenizer tokenizer, Engine engine, int defaultChatMaxTokens, ToolCallFormat toolCallFormat) {}

    private final Vertx vertx;
    private final WorkerMetrics metrics;
    private final Supplier<String> notReadyReason;
    private final Supplier<String> refusalReason;
    private volatile boolean draining;
    private final HttpSettings settings;
    private final long maxBodyBytes;
    private final Runnable beforeScrape;
    private final ApiKeys apiKeys;
    private static final String API_KEY = "nuri.apiKey";
    private final ConnectionGuard guard;
    /** Body decoding, chat templates and tokenization: CPU work kept off the event loops. */
    private final WorkerExecutor prep;
    private volatile Serving serving;
    /** the Files and Batch API's store and runner; null when not set up */
    private volatile BatchService batches;
    /** a key only this process knows, for its own batch requests when the API needs keys (no rate limits) */
    private final String internalKey = randomKey();
    private volatile RequestParser parser;
    private HttpServer server;
    private Router router;

    /**
     * @param notReadyReason null when serving-ready, else why not (loading, a peer missing, draining)
     * @param refusalReason  null when a request can be served, else why not (a draining shard still serves)
     * @param apiKey null and no keys file in the settings: the API is open; else every request outside
     *               {@link #OPEN_PATHS} must send {@code Authorization: Bearer <key>} with this key or one of the file's
     *               (only SHA-256 digests are kept)
     */
    public ApiServer(Vertx vertx, WorkerMetrics metrics, Supplier<String> notReadyReason, Supplier<String> refusalReason,
                     HttpSettings settings, Runnable beforeScrape, String apiKey) {
        this.vertx = vertx;
        this.apiKeys = new ApiKeys(apiKey, settings.apiKeysFile());
        this.metrics = metrics;
        this.notReadyReason = notReadyReason;
        this.refusalReason = refusalReason;
        this.settings = settings;
        this.maxBodyBytes = settings.maxBodyBytes();
        this.beforeScrape = beforeScrape;
        this.guard = new ConnectionGuard(settings.requestReadTimeout(), settings.idleTimeout(), settings.maxConnections(),
                settings.halfClose());
        metrics.gauge("nuri.http_connections", "Open HTTP connections (capped by --http-max-connections)", guard::openConnections);
        this.prep = vertx.createSharedWorkerExecutor("nuri-request-prep", Math.max(2, Runtime.getRuntime().availableProcessors()));
    }

    /** The group's internal endpoints: authenticated with the peer key by their handler, not with an API key. */
    static final String INTERNAL_PREFIX = "/v1/internal/";
    private volatile io.vertx.core.Handler<RoutingContext> internal;

    /** Serves {@code /v1/internal/*} (the shard sets it once its experts are loaded; 503 before). */
    public void internal(io.vertx.core.Handler<RoutingContext> handler) {
        this.internal = handler;
    }

    public void serving(Serving s) {
        ModelTokenizer t = s.tokenizer();
        String source = t.chatTemplate();
        if (settings.chatTemplate() != null) {
            try {
                source = Files.readString(settings.chatTemplate());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the chat template " + settings.chatTemplate() + ": " + e.getMessage(), e);
            }
        }
        int contextLength = s.engine().contextLength();
        long maxPromptChars = RequestParser.maxPromptChars(contextLength, t);
        // the output bound leaves room for the template's own text around a prompt that is just within the bound
        ChatTemplate template = source == null ? null
                : new ChatTemplate(source, t.bosToken(), t.eosToken(), settings.chatTemplateTimeout(), 2 * maxPromptChars);
        this.parser = new RequestParser(t, template, s.modelName(), contextLength, s.defaultChatMaxTokens(), new StructuredOutput(t),
                s.toolCallFormat());
        synchronized (this) {
            this.serving = s;
            if (batches != null) batches.resume();
        }
    }

    /** The methods each route answers, for 405 responses (kept beside the routes below). */
    private static final java.util.Map<String, String> ALLOWED_METHODS = java.util.Map.ofEntries(
            java.util.Map.entry("/health", "GET, HEAD"), java.util.Map.entry("/health/live", "GET, HEAD"),
            java.util.Map.entry("/health/ready", "GET, HEAD"), java.util.Map.entry("/metrics", "GET, HEAD"),
            java.util.Map.entry("/openapi.json", "GET, HEAD"), java.util.Map.entry("/v1/models", "GET, HEAD"),
            java.util.Map.entry("/v1/completions", "POST"), java.util.Map.entry("/v1/chat/completions", "POST"),
            java.util.Map.entry("/tokenize", "POST"), java.util.Map.entry("/detokenize", "POST"),
            java.util.Map.entry("/v1/files", "GET, POST"), java.util.Map.entry("/v1/batches", "GET, POST"));

    /** The shard is shutting down: every answer from now on closes its connection after it. */
    public void drain() {
        draining = true;
    }

    public Future<HttpServer> listen(String host, int port) {
        Router router = Router.router(vertx);
        this.router = router;
        router.route().handler(ctx -> {
            ctx.put(ARRIVAL, System.nanoTime());
            ctx.addEndHandler(v -> ConnectionGuard.responseEnded(ctx.request().connection()));
            if (draining) {
                // A kept-alive client would go on sending here (a Service's DNAT is per connection):
                // make it reconnect, so its next request reaches a shard that is not going away.
                ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
                ctx.addEndHandler(v -> ctx.request().connection().close());
            }
            String id = ctx.request().getHeader(REQUEST_ID);
            if (id == null || id.isBlank() || id.length() > 128) id = UUID.randomUUID().toString().replace("-", "");
            ctx.put(REQUEST_ID, id);
            ctx.response().putHeader(REQUEST_ID, id);
            ctx.next();
        });
        if (!settings.corsOrigins().isEmpty()) {
            // before authentication: a browser's preflight carries no credentials
            router.route().handler(CorsHandler.create().addOrigins(settings.corsOrigins())
                    .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST, HttpMethod.OPTIONS))
                    .exposedHeader(REQUEST_ID).maxAgeSeconds(600));
        }
        if (apiKeys.enabled()) router.route().handler(this::authenticate);
        BodyHandler jsonBodies = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
        router.route().handler(ctx -> {
            String type = ctx.request().getHeader("Content-Type");
            HttpMethod method = ctx.request().method();
            if (type != null && type.regionMatches(true, 0, "multipart/", 0, 10) && method != HttpMethod.POST
                    && method != HttpMethod.PUT && method != HttpMethod.PATCH && method != HttpMethod.DELETE) {
                // found by schemathesis: Vert.x's form decoder throws on these (TRACE with a multipart body was a 500)
                throw ApiException.badRequest(null, "a multipart body is accepted only with POST (" + BatchApi.FILES + ")");
            }
            BatchService b = batches;
            if (b != null && BatchApi.isUpload(ctx)) {
                BodyHandler.create(b.uploads().toString()).setBodyLimit(b.maxFileBytes()).setDeleteUploadedFilesOnEnd(true).handle(ctx);
            } else {
                jsonBodies.handle(ctx);
            }
        });
        router.route().handler(ctx -> {
            ConnectionGuard.requestRead(ctx.request().connection());
            ctx.next();
        });
        router.route(INTERNAL_PREFIX + "*").handler(ctx -> {
            var handler = internal;
            if (handler == null) throw ApiException.unavailable("the shard is still loading");
            handler.handle(ctx);
        });
        get(router, "/health", ctx -> json(ctx, 200, new JsonObject().put("status", "ok")));
        get(router, "/health/live", ctx -> json(ctx, 200, new JsonObject().put("status", "ok")));
        get(router, "/health/ready", this::ready);
        get(router, "/metrics", ctx -> {
            beforeScrape.run();
            ctx.response().putHeader("Content-Type", WorkerMetrics.CONTENT_TYPE).end(metrics.scrape());
        });
        get(router, "/openapi.json", ctx -> jsonBody(ctx, 200, OPENAPI));
        get(router, "/v1/models", this::models);
        router.getWithRegex("/v1/models/(?<id>.+)").handler(this::model);
        router.headWithRegex("/v1/models/(?<id>.+)").handler(this::model);
        router.post("/v1/completions").handler(ctx -> generate(ctx, false));
        router.post("/v1/chat/completions").handler(ctx -> generate(ctx, true));
        new BatchApi(this, () -> batches).register(router);
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
        // a 400 before any route matched: Vert.x-web could not decode the path (e.g. /v1/%zz)
        router.errorHandler(400, ctx -> Errors.send(ctx.response(), ApiException.badRequest(null,
                "the request path '" + ctx.request().path() + "' is not valid percent-encoding")));
        // HTTP/1.1 only: with h2c on, Vert.x waits for a client's first bytes before it creates the connection, so a
        // socket that never sends anything would escape the connection cap and the idle timeout
        // A fixed send buffer (the kernel doubles it) instead of autotuning up to tcp_wmem's 4 MB: what a client has
        // not taken then stays in Netty's buffer, where the stream cap and the drain timeout (ConnectionGuard) see it
        server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port).setCompressionSupported(false)
                .setHttp2ClearTextEnabled(false).setSendBufferSize(SEND_BUFFER_BYTES));
        return server.connectionHandler(guard::attach).invalidRequestHandler(this::invalidRequest).requestHandler(router).listen();
    }

    /** GET routes answer HEAD too (Vert.x sends the headers of the GET response and no body). */
    private static void get(Router router, String path, io.vertx.core.Handler<RoutingContext> handler) {
        router.get(path).handler(handler);
        router.head(path).handler(handler);
    }

    /** A request Vert.x could not parse (bad request line, bad percent-encoding, headers too large): OpenAI-style 400. */
    private void invalidRequest(io.vertx.core.http.HttpServerRequest request) {
        io.vertx.core.http.HttpServerResponse response = request.response();
        Throwable cause = request.decoderResult().cause();
        String why = cause == null ? "malformed request" : cause.getMessage();
        int status = cause instanceof io.netty.handler.codec.TooLongFrameException ? 431 : 400;
        response.putHeader("Connection", "close");
        Errors.send(response, new ApiException(status, "invalid_request_error", null, null,
                "the request could not be parsed: " + why, null));
    }

    /**
     * The API's routes as "METHOD /path" with OpenAPI path templates ({@code /v1/models/{id}}), for the test that
     * keeps the OpenAPI document true; routes for every method (filters, the fallback) are not API routes.
     */
    public java.util.List<String> routes() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (io.vertx.ext.web.Route r : router.getRoutes()) {
            if (r.methods() == null || r.methods().isEmpty()) continue;
            String path = r.getPath() != null ? r.getPath() : r.getName().replaceAll("\\(\\?<(\\w+)>[^)]*\\)", "{$1}");
            for (HttpMethod m : r.methods()) out.add(m.name() + " " + path);
        }
        return out;
    }

    private static String randomKey() {
        byte[] b = new byte[32];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }

    /**
     * Sets up the Files and Batch API over {@code settings.dir()}, sending batch requests to this server's own port
     * (call after {@link #listen}); batches a previous process left running resume once the model is loaded.
     */
    public synchronized void batches(BatchService.Settings settings, String host) {
        String self = "0.0.0.0".equals(host) || "::".equals(host) ? "127.0.0.1" : host;
        this.batches = new BatchService(settings, java.net.URI.create("http://" + (self.contains(":") ? "[" + self + "]" : self)
                + ":" + actualPort()), apiKeys.enabled() ? internalKey : null);
        if (serving != null) batches.resume();
    }

    private static Buffer openApiDocument() {
        try (var in = ApiServer.class.getResourceAsStream("openapi.json")) {
            if (in == null) throw new IllegalStateException("openapi.json is missing from the worker jar");
            return Buffer.buffer(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int actualPort() {
        return server.actualPort();
    }

    public Future<Void> close() {
        if (batches != null) batches.close();
        prep.close();
        return server == null ? Future.succeededFuture() : server.close();
    }

    /**
     * Runs {@code work} on the worker pool, then {@code then} with its result back on the request's event loop; an
     * exception from either becomes the request's error response. Nothing happens after the client has gone.
     */
    <T> void offLoop(RoutingContext ctx, Callable<T> work, Consumer<T> then) {
        prep.executeBlocking(work, false).onComplete(ar -> {
            if (ctx.response().ended() || ctx.response().closed()) return;
            if (ar.failed()) {
                ctx.fail(ar.cause());
                return;
            }
            try {
                then.accept(ar.result());
            } catch (RuntimeException e) {
                ctx.fail(e);
            }
        });
    }

    /** Bearer-token check, in constant time (digests of equal length compared with MessageDigest.isEqual), then the key's request rate. */
    private void authenticate(RoutingContext ctx) {
        if (OPEN_PATHS.contains(ctx.normalizedPath()) || ctx.normalizedPath().startsWith(INTERNAL_PREFIX)) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        String presented = null;
        if (header != null && header.length() > 7 && header.regionMatches(true, 0, "Bearer ", 0, 7)) presented = header.substring(7).trim();
        if (presented != null && java.security.MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8),
                internalKey.getBytes(StandardCharsets.UTF_8))) { // this process's own batch requests
            ctx.next();
            return;
        }
        ApiKeys.Key key = presented == null ? null : apiKeys.find(presented);
        if (key != null) {
            apiKeys.admitRequest(key);
            ctx.put(API_KEY, key);
            ctx.next();
            return;
        }
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", presented == null
                ? "You didn't provide an API key. Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY)."
                : "Incorrect API key provided.", null);
    }

    /** The name of the API key the request came with; null when the server has no keys. */
    static String keyName(RoutingContext ctx) {
        ApiKeys.Key key = ctx.get(API_KEY);
        return key == null ? null : key.name();
    }

    private void ready(RoutingContext ctx) {
        String reason = notReadyReason.get();
        if (reason == null) json(ctx, 200, new JsonObject().put("status", "ready"));
        else json(ctx, 503, new JsonObject().put("status", "not ready").put("reason", reason));
    }

    private void models(RoutingContext ctx) {
        json(ctx, 200, new JsonObject().put("object", "list").put("data", new JsonArray().add(modelObject(loaded()))));
    }

    private static JsonObject modelObject(Serving s) {
        return new JsonObject().put("id", s.modelName()).put("object", "model").put("created", 0)
                .put("owned_by", "nuri").put("root", s.modelName()).put("max_model_len", s.engine().contextLength());
    }

    private void model(RoutingContext ctx) {
        Serving s = loaded();
        String id = ctx.pathParam("id");
        if (!id.equals(s.modelName())) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                    "The model '" + id + "' does not exist; this server serves '" + s.modelName() + "'", null);
        }
        json(ctx, 200, modelObject(s));
    }

    private void generate(RoutingContext ctx, boolean chat) {
        Serving s = loaded();
        String reason = refusalReason.get();
        if (reason != null) throw ApiException.unavailable("not ready to serve: " + reason);
        RequestParser p = parser;
        Buffer raw = bodyBuffer(ctx);
        boolean batch = batchPriority(ctx);
        long arrival = ctx.get(ARRIVAL);
        offLoop(ctx, () -> {
            metrics.prepWait(batch).record(System.nanoTime() - arrival, TimeUnit.NANOSECONDS);
            JsonObject body = decode(raw);
            return chat ? p.chat(body) : p.completion(body);
        }, request -> submit(ctx, s, request, chat));
    }

    private static boolean batchPriority(RoutingContext ctx) {
        return BATCH_PRIORITY.equalsIgnoreCase(ctx.request().getHeader(PRIORITY));
    }

    private void submit(RoutingContext ctx, Serving s, ParsedRequest request, boolean chat) {
        String requestId = ctx.get(REQUEST_ID);
        String id = (chat ? "chatcmpl-" : "cmpl-") + requestId;
        ResponseStream stream = new ResponseStream(vertx.getOrCreateContext(), ctx.response(), request, s.tokenizer(), id, s.modelName(),
                settings.streamBufferBytes());
        ApiKeys.Key key = ctx.get(API_KEY);
        if (key != null) {
            long tokens = 0;
            for (int[] p : request.prompts()) tokens += p.length + (long) request.n() * request.params().maxTokens();
            apiKeys.admitTokens(key, tokens);
        }
        Generation g;
        boolean batch = batchPriority(ctx);
        long now = System.nanoTime();
        metrics.prepTime(batch).record(now - (long) ctx.get(ARRIVAL), TimeUnit.NANOSECONDS);
        try {
            g = s.engine().submit(new GenerationSpec(requestId, request.prompts(), request.n(), request.params(), now, batch), stream);
        } catch (EngineRejectedException e) {
            throw Errors.of(e.failure());
        }
        stream.onAbort(() -> s.engine().cancel(g));
        ctx.response().closeHandler(v -> {
            stream.clientClosed();
            s.engine().cancel(g);
        });
    }

    private void tokenize(RoutingContext ctx) {
        Serving s = loaded();
        RequestParser p = parser;
        Buffer raw = bodyBuffer(ctx);
        offLoop(ctx, () -> {
            JsonObject body = decode(raw);
            RequestFields f = new RequestFields(body);
            p.checkModel(f);
            // type-check both forms' flags whichever form is used (schemathesis: a string flag the form ignores got 200)
            Boolean addSpecial = f.bool("add_special_tokens");
            f.bool("add_generation_prompt");
            int[] ids;
            if (f.has("messages") && f.has("prompt")) { // found by schemathesis: messages silently won
                throw ApiException.badRequest("prompt", "send either 'prompt' or 'messages', not both");
            }
            if (f.has("messages")) {
                ids = p.chat(body.copy().put("max_tokens", 1)).prompts().get(0);
            } else {
                String prompt = f.string("prompt");
                if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' (a string) or 'messages' is required");
                ids = p.encodePrompt(prompt, addSpecial == null || addSpecial);
            }
            JsonArray tokens = new JsonArray();
            JsonArray strs = new JsonArray();
            for (int id : ids) {
                tokens.add(id);
                strs.add(s.tokenizer().tokenString(id));
            }
            return new JsonObject().put("count", ids.length).put("max_model_len", s.engine().contextLength())
                    .put("tokens", tokens).put("token_strs", strs).toBuffer();
        }, out -> jsonBody(ctx, 200, out));
    }

    private void detokenize(RoutingContext ctx) {
        Serving s = loaded();
        RequestParser p = parser;
        Buffer raw = bodyBuffer(ctx);
        offLoop(ctx, () -> {
            RequestFields f = new RequestFields(decode(raw));
            p.checkModel(f);
            JsonArray tokens = f.array("tokens");
            if (tokens == null) throw ApiException.badRequest("tokens", "'tokens' (an array of token ids) is required");
            // the prompt's own check: a fractional id (0.5) is refused, not cut to a token
            int[] ids = p.tokenIds(tokens, "tokens");
            return new JsonObject().put("prompt", s.tokenizer().decode(ids, false)).toBuffer();
        }, out -> jsonBody(ctx, 200, out));
    }

    private Serving loaded() {
        Serving s = serving;
        if (s == null) throw ApiException.unavailable("the model is still loading");
        return s;
    }

    /** The raw body, checked on the event loop (cheap); decoding waits for the worker pool. */
    static Buffer bodyBuffer(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        if (type != null && type.regionMatches(true, 0, "multipart/", 0, 10)) {
            throw ApiException.badRequest(null, "the request body is " + type.split(";")[0]
                    + "; send a JSON object with Content-Type: application/json");
        }
        Buffer b = ctx.body() == null ? null : ctx.body().buffer();
        if (b == null || b.length() == 0) throw ApiException.badRequest(null, "the request body is empty; send a JSON object");
        return b;
    }

    static JsonObject decode(Buffer body) {
        try {
            Object v = io.vertx.core.json.Json.decodeValue(body);
            if (v instanceof JsonObject o) return o;
            throw ApiException.badRequest(null, "the request body must be a JSON object");
        } catch (DecodeException e) {
            throw ApiException.badRequest(null, "the request body is not valid JSON: " + e.getMessage());
        }
    }

    static void json(RoutingContext ctx, int status, JsonObject body) {
        jsonBody(ctx, status, body.toBuffer());
    }

    private static void jsonBody(RoutingContext ctx, int status, Buffer body) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body);
    }

    private void failure(RoutingContext ctx) {
        Throwable t = ctx.failure();
        ApiException e;
        if (t instanceof ApiException api) {
            e = api;
        } else if (BatchApi.isUpload(ctx) && (t instanceof IllegalArgumentException || t instanceof io.netty.handler.codec.DecoderException)) {
            // found by schemathesis: a multipart part with an empty name failed Vert.x's form decoding with a 500
            e = ApiException.badRequest("file", "the multipart body could not be read: " + t.getMessage());
        } else if (ctx.statusCode() == 413 && BatchApi.isUpload(ctx) && batches != null) {
            e = new ApiException(413, "invalid_request_error", "file", "file_too_large", "the file is larger than "
                    + batches.maxFileBytes() + " bytes, this server's limit (NURI_BATCH_MAX_FILE_BYTES); split it into several batches", null);
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
