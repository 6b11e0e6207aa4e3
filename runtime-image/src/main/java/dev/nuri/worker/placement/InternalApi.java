package dev.nuri.worker.placement;

import dev.nuri.contract.InvalidPlacementException;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.PlacementFile;
import dev.nuri.worker.api.ApiException;
import dev.nuri.worker.moe.ExpertDispatcher;
import dev.nuri.worker.moe.ExpertHost;
import dev.nuri.worker.moe.MoeLoad;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;

import java.util.function.UnaryOperator;
import java.util.logging.Logger;

/**
 * The group's internal endpoints on the HTTP port ({@code /v1/internal/...}, docs/placement.md): the expert-load window
 * and the three phases of a live placement switch ({@link dev.nuri.contract.GroupPlacementSwitch} is the caller's
 * side). Like the peer port, they answer only a caller that proves it holds the group's peer key
 * ({@link PeerKey#checkRequest}); a shard without a key (a group of one) refuses them all.
 */
public final class InternalApi implements Handler<RoutingContext> {
    private static final Logger LOG = Logger.getLogger(InternalApi.class.getName());

    private final Vertx vertx;
    private final PeerKey key;
    private final int shardIndex;
    private final ExpertHost host;
    private final ExpertDispatcher dispatcher;
    private final MoeLoad load;
    private final UnaryOperator<PlacementFile> validate;

    /** @param validate checks a placement against the model and the group (throws InvalidPlacementException) */
    public InternalApi(Vertx vertx, PeerKey key, int shardIndex, ExpertHost host, ExpertDispatcher dispatcher, MoeLoad load,
                       UnaryOperator<PlacementFile> validate) {
        this.vertx = vertx;
        this.key = key;
        this.shardIndex = shardIndex;
        this.host = host;
        this.dispatcher = dispatcher;
        this.load = load;
        this.validate = validate;
    }

    @Override
    public void handle(RoutingContext ctx) {
        byte[] body = ctx.body() == null || ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes();
        String method = ctx.request().method().name();
        if (key == null) {
            throw new ApiException(403, "invalid_request_error", null, "no_peer_key",
                    "internal endpoints need the group's peer key (NURI_PEER_KEY), and this shard has none", null);
        }
        if (!key.checkRequest(ctx.request().getHeader(PeerKey.REQUEST_HEADER), method, ctx.request().uri(), body,
                System.currentTimeMillis() / 1000)) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_peer_proof", "internal endpoints need a "
                    + PeerKey.REQUEST_HEADER + " header made with the group's peer key, within " + PeerKey.REQUEST_SKEW_SECONDS
                    + " s of this shard's clock", null);
        }
        String path = ctx.normalizedPath();
        switch (method + " " + path) {
            case "GET /v1/internal/expert-load" -> ok(ctx, load.window(shardIndex, host.active().placement().generation()).toJson());
            case "POST /v1/internal/placement/prepare" -> blocking(ctx, () -> {
                PlacementFile next;
                try {
                    next = validate.apply(PlacementFile.parse(new String(body, java.nio.charset.StandardCharsets.UTF_8)));
                    host.prepare(next);
                } catch (InvalidPlacementException | IllegalArgumentException e) {
                    throw ApiException.badRequest(null, e.getMessage());
                }
                return state();
            });
            case "POST /v1/internal/placement/commit" -> blocking(ctx, () -> {
                try {
                    host.commit(generation(ctx));
                } catch (IllegalArgumentException e) {
                    throw new ApiException(409, "invalid_request_error", "generation", "not_prepared", e.getMessage(), null);
                }
                if (!dispatcher.awaitStepsOnActivePlacement()) {
                    throw ApiException.unavailable("a step routed with the previous placement is still running on shard " + shardIndex);
                }
                return state();
            });
            case "POST /v1/internal/placement/abort" -> blocking(ctx, () -> {
                host.abort(generation(ctx));
                return state();
            });
            case "POST /v1/internal/placement/release" -> blocking(ctx, () -> {
                host.release(-1);
                return state();
            });
            default -> throw new ApiException(404, "invalid_request_error", null, "not_found",
                    "no internal route " + method + " " + path, null);
        }
    }

    private String state() {
        StringBuilder b = new StringBuilder("{\"shard\":").append(shardIndex).append(",\"generation\":")
                .append(host.active().placement().generation()).append(",\"loaded\":[");
        long[] g = host.generations();
        for (int i = 0; i < g.length; i++) b.append(i > 0 ? "," : "").append(g[i]);
        return b.append("],\"expertBytes\":").append(host.activeBytes()).append('}').toString();
    }

    private static long generation(RoutingContext ctx) {
        String g = ctx.queryParams().get("generation");
        try {
            return Long.parseLong(g);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("generation", "query parameter generation must be an integer, got " + g);
        }
    }

    private interface Step {
        String run() throws Exception;
    }

    /** Loading experts and waiting for a step take time: off the event loop. */
    private void blocking(RoutingContext ctx, Step step) {
        vertx.executeBlocking(step::run, false).onComplete(ar -> {
            if (ar.failed()) {
                if (!(ar.cause() instanceof ApiException)) LOG.warning("internal call failed on shard " + shardIndex + ": " + ar.cause());
                ctx.fail(ar.cause());
            } else {
                ok(ctx, ar.result());
            }
        });
    }

    private static void ok(RoutingContext ctx, String json) {
        ctx.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(json);
    }
}
