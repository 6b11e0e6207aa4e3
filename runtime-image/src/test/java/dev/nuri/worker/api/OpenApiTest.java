package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** /openapi.json names exactly the routes the server registers, and is served without the API key. */
class OpenApiTest {
    static InProcessShard shard;
    static final Set<String> METHODS = Set.of("get", "head", "post", "put", "patch", "delete", "options");

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--api-key", "secret-key");
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    @Test
    void everyRouteIsInTheDocumentAndEveryOperationIsARoute() {
        Http.Response r = shard.http.get("/openapi.json");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject paths = r.json().getJsonObject("paths");
        List<String> documented = new ArrayList<>();
        for (String path : paths.fieldNames()) {
            for (String key : paths.getJsonObject(path).fieldNames()) {
                if (METHODS.contains(key)) documented.add(key.toUpperCase() + " " + path);
            }
        }
        assertThat(documented).isNotEmpty();
        assertThat(shard.shard.api().routes()).containsExactlyInAnyOrderElementsOf(documented);
    }

    @Test
    void theDocumentIsOpenWhileTheApiNeedsTheKey() {
        assertThat(shard.http.get("/openapi.json").status()).isEqualTo(200);
        assertThat(shard.http.get("/v1/models").status()).isEqualTo(401);
    }
}
