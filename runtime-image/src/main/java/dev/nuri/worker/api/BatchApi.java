package dev.nuri.worker.api;

import dev.nuri.worker.batch.BatchService;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.FileUpload;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * OpenAI's Files and Batch routes ({@code /v1/files}, {@code /v1/batches}); the work is {@link BatchService}'s, run
 * on the request-prep pool (it reads and writes files).
 */
final class BatchApi {
    static final String FILES = "/v1/files";
    private final ApiServer server;
    private final Supplier<BatchService> service;

    /** @param service null until the shard has set one up (the routes then answer 503) */
    BatchApi(ApiServer server, Supplier<BatchService> service) {
        this.server = server;
        this.service = service;
    }

    /** Uploads (multipart) come only here; every other body is JSON. */
    static boolean isUpload(RoutingContext ctx) {
        return ctx.request().method() == io.vertx.core.http.HttpMethod.POST && FILES.equals(ctx.normalizedPath());
    }

    void register(Router router) {
        router.post(FILES).handler(this::upload);
        get(router, FILES, ctx -> {
            String purpose = ctx.queryParams().get("purpose");
            String owner = ApiServer.keyName(ctx);
            server.offLoop(ctx, () -> service().listFiles(owner, purpose), out -> ApiServer.json(ctx, 200, out));
        });
        get(router, FILES + "/(?<id>[^/]+)", ctx -> call(ctx, (s, owner) -> s.file(owner, ctx.pathParam("id"))));
        router.deleteWithRegex(FILES + "/(?<id>[^/]+)").handler(ctx -> call(ctx, (s, owner) -> s.deleteFile(owner, ctx.pathParam("id"))));
        get(router, FILES + "/(?<id>[^/]+)/content", ctx -> {
            String id = ctx.pathParam("id");
            String owner = ApiServer.keyName(ctx);
            server.offLoop(ctx, () -> service().fileContent(owner, id), path -> ctx.response().putHeader("Content-Type", "application/octet-stream")
                    .sendFile(path.toString()));
        });
        router.post("/v1/batches").handler(ctx -> {
            var raw = ApiServer.bodyBuffer(ctx);
            String owner = ApiServer.keyName(ctx);
            server.offLoop(ctx, () -> service().createBatch(owner, ApiServer.decode(raw)), out -> ApiServer.json(ctx, 200, out));
        });
        get(router, "/v1/batches", ctx -> {
            int limit = limit(ctx.queryParams().get("limit"));
            String after = ctx.queryParams().get("after");
            String owner = ApiServer.keyName(ctx);
            server.offLoop(ctx, () -> service().listBatches(owner, limit, after), out -> ApiServer.json(ctx, 200, out));
        });
        get(router, "/v1/batches/(?<id>[^/]+)", ctx -> call(ctx, (s, owner) -> s.batch(owner, ctx.pathParam("id"))));
        router.postWithRegex("/v1/batches/(?<id>[^/]+)/cancel").handler(ctx -> call(ctx, (s, owner) -> s.cancel(owner, ctx.pathParam("id"))));
    }

    /** GET routes answer HEAD too, as the others do; a path with a group is a regex. */
    private static void get(Router router, String path, io.vertx.core.Handler<RoutingContext> handler) {
        if (path.contains("(?<")) {
            router.getWithRegex(path).handler(handler);
            router.headWithRegex(path).handler(handler);
        } else {
            router.get(path).handler(handler);
            router.head(path).handler(handler);
        }
    }

    /** Runs a service call for the caller's key (null without keys) off the event loop, answering its object. */
    private void call(RoutingContext ctx, java.util.function.BiFunction<BatchService, String, JsonObject> op) {
        String owner = ApiServer.keyName(ctx);
        server.offLoop(ctx, () -> op.apply(service(), owner), out -> ApiServer.json(ctx, 200, out));
    }

    private BatchService service() {
        BatchService s = service.get();
        if (s == null) throw ApiException.unavailable("the Batch API is not set up on this server (no NURI_BATCH_DIR)");
        return s;
    }

    private static int limit(String text) {
        if (text == null) return 20;
        try {
            int n = Integer.parseInt(text);
            if (n >= 1 && n <= 100) return n;
        } catch (NumberFormatException ignored) {
            // the message below
        }
        throw ApiException.badRequest("limit", "'limit' must be an integer 1..100, got '" + text + "'");
    }

    private void upload(RoutingContext ctx) {
        service(); // 503 when not set up, before the body is blamed
        String type = ctx.request().getHeader("Content-Type");
        if (type == null || !type.regionMatches(true, 0, "multipart/form-data", 0, 19)) {
            throw ApiException.badRequest("file", "upload the file as multipart/form-data with the fields 'file' and 'purpose'");
        }
        FileUpload file = null;
        for (FileUpload u : ctx.fileUploads()) {
            if (u.name().equals("file")) {
                if (file != null) throw ApiException.badRequest("file", "send one 'file' field");
                file = u;
            }
        }
        if (file == null) throw ApiException.badRequest("file", "the multipart body has no 'file' field");
        String purpose = ctx.request().getFormAttribute("purpose");
        if (purpose == null) throw ApiException.badRequest("purpose", "the multipart body has no 'purpose' field; send purpose=batch");
        String name = file.fileName();
        Path uploaded = Path.of(file.uploadedFileName());
        String owner = ApiServer.keyName(ctx);
        server.offLoop(ctx, () -> service().createFile(owner, name, purpose, uploaded), out -> ApiServer.json(ctx, 200, out));
    }
}
