package dev.nuri.contract;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The caller's side of a group's internal endpoints: reads each shard's expert load, and switches the whole group to a
 * new placement without a restart, in two phases:
 *
 * <ol>
 *   <li>{@code POST /v1/internal/placement/prepare} on every shard: each loads the experts the new placement gives it
 *       beside its old ones. One shard failing aborts the switch on all ({@code .../abort}); the old placement serves on.
 *   <li>{@code POST /v1/internal/placement/commit} on every shard: each routes its next steps with the new generation
 *       (carried in every DISPATCH) and answers once its step under way, routed with the old one, has ended.
 *   <li>{@code POST /v1/internal/placement/release} on every shard: no shard can dispatch with the old generation any
 *       more, so the experts only it held are given back.
 * </ol>
 *
 * Every call carries {@link PeerKey#requestProof}: only a holder of the group's peer key can read or move its experts.
 */
public final class GroupPlacementSwitch {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<URI> shards;
    private final PeerKey key;
    private final Duration timeout;

    /** @param shards each shard's HTTP base URI ({@code http://host:port}), in shard order */
    public GroupPlacementSwitch(List<URI> shards, PeerKey key, Duration timeout) {
        this.shards = List.copyOf(shards);
        this.key = key;
        this.timeout = timeout;
    }

    /** A switch that did not happen; the old placement is still in force on every shard. */
    public static final class SwitchFailedException extends RuntimeException {
        public SwitchFailedException(String message) {
            super(message);
        }
    }

    /** Every shard's load window. @throws IOException a shard did not answer 200 */
    public List<ExpertLoad> expertLoad() throws IOException {
        List<ExpertLoad> out = new ArrayList<>();
        for (URI shard : shards) out.add(ExpertLoad.parse(call(shard, "GET", "/v1/internal/expert-load", new byte[0])));
        return out;
    }

    /**
     * Switches every shard to {@code next}; on a failure in the prepare phase the prepared shards are told to abort.
     *
     * @throws SwitchFailedException a shard refused or failed to prepare (the group keeps its old placement), or to commit
     */
    public void switchTo(PlacementFile next) {
        byte[] body = next.toJson().getBytes(StandardCharsets.UTF_8);
        String generation = "?generation=" + next.generation();
        for (int s = 0; s < shards.size(); s++) {
            try {
                call(shards.get(s), "POST", "/v1/internal/placement/prepare", body);
            } catch (IOException e) {
                for (URI shard : shards) {
                    try {
                        call(shard, "POST", "/v1/internal/placement/abort" + generation, new byte[0]);
                    } catch (IOException ignored) {
                        // a shard that cannot be told keeps the prepared experts until the next switch releases them
                    }
                }
                throw new SwitchFailedException("shard " + s + " could not prepare placement generation " + next.generation() + ": "
                        + e.getMessage() + "; the switch was aborted on every shard and the old placement serves on");
            }
        }
        for (int s = 0; s < shards.size(); s++) {
            try {
                call(shards.get(s), "POST", "/v1/internal/placement/commit" + generation, new byte[0]);
            } catch (IOException e) {
                throw new SwitchFailedException("shard " + s + " did not commit placement generation " + next.generation() + ": " + e.getMessage()
                        + "; shards keep both placements loaded, so dispatches of either are still answered");
            }
        }
        for (int s = 0; s < shards.size(); s++) {
            try {
                call(shards.get(s), "POST", "/v1/internal/placement/release", new byte[0]);
            } catch (IOException e) {
                throw new SwitchFailedException("shard " + s + " did not release the old placement: " + e.getMessage());
            }
        }
    }

    private String call(URI shard, String method, String pathAndQuery, byte[] body) throws IOException {
        String proof = key.requestProof(method, pathAndQuery, body, System.currentTimeMillis() / 1000);
        HttpRequest request = HttpRequest.newBuilder(shard.resolve(pathAndQuery)).timeout(timeout)
                .header(PeerKey.REQUEST_HEADER, proof).header("Content-Type", "application/json")
                .method(method, body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        try {
            HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IOException(method + " " + shard + pathAndQuery + ": " + r.statusCode() + " " + r.body());
            return r.body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
