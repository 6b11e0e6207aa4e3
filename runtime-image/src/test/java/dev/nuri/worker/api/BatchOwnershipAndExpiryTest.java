package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Batch API's lifecycle rules on a shard with API keys and a completion window of 5 s
 * ({@code --batch-window-seconds}): files and batches belong to the key that made them (404 to any other, as OpenAI
 * answers), and a batch not finished by its {@code expires_at} becomes {@code expired}, keeping what was answered.
 */
class BatchOwnershipAndExpiryTest {
    static final int WINDOW_SECONDS = 5;
    static final String ALICE = "Bearer sk-alice-0123456789", BOB = "Bearer sk-bob-9876543210";
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        Path keys = Files.writeString(dir.resolve("keys"), "alice sk-alice-0123456789\nbob sk-bob-9876543210\n");
        shard = InProcessShard.start("--batch-dir", dir.resolve("batches").toString(), "--batch-window-seconds", "" + WINDOW_SECONDS,
                "--batch-concurrency", "1", "--api-keys-file", keys.toString());
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        if (shard != null) shard.close();
    }

    /** Another key's file or batch does not exist for the caller: get, content, delete, list, use, cancel. */
    @Test
    void filesAndBatchesAreTheirKeysOwn() throws Exception {
        JsonObject file = upload(line("only", 1) + "\n", ALICE);
        String fileId = file.getString("id");
        assertThat(file.fieldNames()).doesNotContain("nuri_owner");
        for (Http.Response r : List.of(http.get("/v1/files/" + fileId, "Authorization", BOB),
                http.get("/v1/files/" + fileId + "/content", "Authorization", BOB),
                http.delete("/v1/files/" + fileId, "Authorization", BOB))) {
            assertNotFound(r, "file_not_found");
        }
        assertNotFound(http.post("/v1/batches", batchRequest(fileId).encode(), "Authorization", BOB), "file_not_found");
        assertThat(ids(http.get("/v1/files", "Authorization", BOB))).doesNotContain(fileId);
        assertThat(ids(http.get("/v1/files", "Authorization", ALICE))).contains(fileId);
        assertThat(http.get("/v1/files/" + fileId + "/content", "Authorization", ALICE).body()).contains("\"only\"");

        Http.Response created = http.post("/v1/batches", batchRequest(fileId).encode(), "Authorization", ALICE);
        assertThat(created.status()).as(created.body()).isEqualTo(200);
        String batchId = created.json().getString("id");
        assertNotFound(http.get("/v1/batches/" + batchId, "Authorization", BOB), "batch_not_found");
        assertNotFound(http.post("/v1/batches/" + batchId + "/cancel", "{}", "Authorization", BOB), "batch_not_found");
        assertThat(ids(http.get("/v1/batches", "Authorization", BOB))).doesNotContain(batchId);
        assertThat(ids(http.get("/v1/batches", "Authorization", ALICE))).contains(batchId);

        JsonObject b = awaitEnded(batchId, ALICE);
        assertThat(b.fieldNames()).doesNotContain("nuri_owner");
        String outputId = b.getString("output_file_id");
        assertThat(http.get("/v1/files/" + outputId + "/content", "Authorization", ALICE).status()).isEqualTo(200);
        assertNotFound(http.get("/v1/files/" + outputId + "/content", "Authorization", BOB), "file_not_found");
        assertThat(ids(http.get("/v1/files?purpose=batch_output", "Authorization", BOB))).doesNotContain(outputId);
        assertThat(http.delete("/v1/files/" + fileId, "Authorization", ALICE).json().getBoolean("deleted")).isTrue();
    }

    /**
     * One quick request, then more long ones (1,000 tokens each, one at a time) than the window holds: the batch
     * expires; the answered request keeps its output line, every other one gets a {@code batch_expired} error line,
     * and the request in flight is abandoned rather than run to its end.
     */
    @Test
    void aBatchPastItsWindowExpiresKeepingWhatWasAnswered() throws Exception {
        StringBuilder file = new StringBuilder(line("quick", 1)).append('\n');
        int total = 21;
        for (int i = 1; i < total; i++) file.append(line("long-" + i, 1000)).append('\n');
        String fileId = upload(file.toString(), ALICE).getString("id");
        JsonObject created = http.post("/v1/batches", batchRequest(fileId).encode(), "Authorization", ALICE).json();
        String id = created.getString("id");
        assertThat(created.getLong("expires_at") - created.getLong("created_at")).isEqualTo(WINDOW_SECONDS);

        JsonObject b = awaitEnded(id, ALICE);
        assertThat(b.getString("status")).as(b.encode()).isEqualTo("expired");
        assertThat(b.getLong("expired_at")).isGreaterThanOrEqualTo(b.getLong("expires_at"));
        assertThat(b.getValue("completed_at")).isNull();
        List<JsonObject> output = lines(b.getString("output_file_id"));
        List<JsonObject> errors = lines(b.getString("error_file_id"));
        JsonObject counts = b.getJsonObject("request_counts");
        assertThat(counts.getInteger("completed")).as("answered before expiry").isEqualTo(output.size()).isLessThan(total);
        assertThat(counts.getInteger("failed")).isEqualTo(errors.size());
        assertThat(counts.getInteger("total")).isEqualTo(total);
        Set<String> ids = new HashSet<>();
        for (JsonObject o : output) {
            assertThat(o.getJsonObject("response").getInteger("status_code")).isEqualTo(200);
            assertThat(ids.add(o.getString("custom_id"))).isTrue();
        }
        for (JsonObject e : errors) {
            assertThat(e.getValue("response")).isNull();
            assertThat(e.getJsonObject("error").getString("code")).isEqualTo("batch_expired");
            assertThat(ids.add(e.getString("custom_id"))).as("each request once: " + e.getString("custom_id")).isTrue();
        }
        assertThat(ids).as("every request answered or expired, once").hasSize(total);
        assertThat(http.post("/v1/batches/" + id + "/cancel", "{}", "Authorization", ALICE).status()).as("an ended batch").isEqualTo(409);
        await("the abandoned request stops generating").atMost(Duration.ofSeconds(30))
                .until(() -> shard.shard.engine().runningCount() == 0);
    }

    static JsonObject awaitEnded(String id, String key) {
        await().atMost(Duration.ofSeconds(60)).until(() -> !List.of("validating", "in_progress", "finalizing", "cancelling")
                .contains(http.get("/v1/batches/" + id, "Authorization", key).json().getString("status")));
        return http.get("/v1/batches/" + id, "Authorization", key).json();
    }

    static void assertNotFound(Http.Response r, String code) {
        assertThat(r.status()).as(r.body()).isEqualTo(404);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo(code);
    }

    static List<Object> ids(Http.Response list) {
        assertThat(list.status()).as(list.body()).isEqualTo(200);
        return list.json().getJsonArray("data").stream().map(o -> ((JsonObject) o).getValue("id")).toList();
    }

    static JsonObject batchRequest(String fileId) {
        return new JsonObject().put("input_file_id", fileId).put("endpoint", "/v1/completions").put("completion_window", "24h");
    }

    static String line(String id, int maxTokens) {
        return new JsonObject().put("custom_id", id).put("method", "POST").put("url", "/v1/completions")
                .put("body", new JsonObject().put("model", "tiny-axk1").put("prompt", "Count to " + id).put("max_tokens", maxTokens)
                        .put("ignore_eos", true)).encode();
    }

    static List<JsonObject> lines(String fileId) {
        List<JsonObject> out = new ArrayList<>();
        if (fileId == null) return out;
        for (String l : http.get("/v1/files/" + fileId + "/content", "Authorization", ALICE).body().split("\n")) {
            if (!l.isBlank()) out.add(new JsonObject(l));
        }
        return out;
    }

    /** multipart/form-data with purpose=batch and the file, as the openai client sends it. */
    static JsonObject upload(String content, String key) throws Exception {
        String boundary = "nuri" + System.nanoTime();
        String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                + "Content-Type: application/jsonl\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(http.uri("/v1/files")).header("Authorization", key)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return new JsonObject(r.body());
    }
}
