package dev.nuri.worker.api;

import dev.nuri.worker.group.LocalGroup;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
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
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Files and Batch API of a real worker process over its socket: the official openai client end to end
 * (src/test/python/batch_client_check.py), bad files refused whole naming the line, the upload size limit, and a
 * worker killed with SIGKILL mid-batch that resumes the batch after a restart with every request answered once.
 */
class BatchApiTest {
    static LocalGroup worker;
    static Path logs;
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        logs = Files.createDirectories(Path.of("target", "group-logs", "batch-api-" + System.nanoTime()));
        worker = LocalGroup.start(new LocalGroup.Spec(1, "builtin:tiny-axk1", 0, 0, System.getProperty("java.class.path"), "256m",
                Map.of("NURI_BATCH_DIR", logs.resolve("batches").toAbsolutePath().toString(), "NURI_BATCH_MAX_FILE_BYTES", "65536",
                        "NURI_BATCH_CONCURRENCY", "2"), logs));
        worker.awaitReady(Duration.ofSeconds(120));
    }

    @AfterAll
    static void stop() {
        if (worker != null) worker.close();
    }

    static String base() {
        return "http://127.0.0.1:" + worker.httpPort(0);
    }

    @Test
    void theOfficialClientUploadsRunsAndReadsABatch() throws Exception {
        Path python = OpenAiPythonClientTest.python();
        String out = OpenAiPythonClientTest.run(List.of(python.toString(), "src/test/python/batch_client_check.py", base() + "/v1"),
                Duration.ofMinutes(5), logs);
        System.out.println(out);
        assertThat(out).contains("all checks passed");
    }

    @Test
    void aBadFileIsRefusedWholeNamingItsLineAndTooLargeGets413() throws Exception {
        List<Object> filesBefore = fileIds();
        String good = line("a", "/v1/completions", "Hi");
        HttpResponse<String> r = upload(good + "\n" + good.replace("\"a\"", "\"b\"") + "\n{\"custom_id\": \"c\", \"method\": \"GET\"}\n");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonObject error = new JsonObject(r.body()).getJsonObject("error");
        assertThat(error.getString("message")).contains("line 3").contains("'method' must be \"POST\"");
        assertThat(error.getString("param")).isEqualTo("file.line[3].method");

        r = upload(good + "\n" + good + "\n");
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).as(r.body()).contains("line 2").contains("custom_id 'a'");

        // a valid file, but its lines go to another endpoint than the batch's
        String fileId = new JsonObject(upload(good + "\n").body()).getString("id");
        r = post("/v1/batches", new JsonObject().put("input_file_id", fileId).put("endpoint", "/v1/chat/completions")
                .put("completion_window", "24h"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("line 1").contains("/v1/chat/completions");
        r = post("/v1/batches", new JsonObject().put("input_file_id", "file-nope").put("endpoint", "/v1/completions")
                .put("completion_window", "24h"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
        r = post("/v1/batches", new JsonObject().put("input_file_id", fileId).put("endpoint", "/v1/completions").put("completion_window", "1h"));
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("param")).as(r.body()).isEqualTo("completion_window");
        assertThat(get("/v1/files/..%2F..%2Fetc%2Fpasswd").statusCode()).isEqualTo(404);

        // found by schemathesis: a part with an empty name was a 500
        String boundary = "b" + System.nanoTime();
        r = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/v1/files")).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n{}\r\n--"
                        + boundary + "--\r\n")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);

        // found by schemathesis' coverage phase: TRACE with a multipart body was a 500
        r = HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/v1/files")).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .method("TRACE", HttpRequest.BodyPublishers.ofString("--" + boundary + "--\r\n")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);

        r = upload(good + "\n" + " ".repeat(70_000) + "\n");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(413);
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("65536").contains("NURI_BATCH_MAX_FILE_BYTES");
        List<Object> stored = fileIds();
        stored.removeAll(filesBefore);
        assertThat(stored).as("only the valid file was stored").containsExactly(fileId);
    }

    /** SIGKILL mid-batch, restart: the batch resumes; every custom_id is in the output exactly once. */
    @Test
    void aWorkerKilledMidBatchResumesItAfterARestart() throws Exception {
        int total = 30;
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < total; i++) {
            file.append(new JsonObject().put("custom_id", "req-" + i).put("method", "POST").put("url", "/v1/completions")
                    .put("body", new JsonObject().put("model", "tiny-axk1").put("prompt", "Count " + i).put("max_tokens", 24)
                            .put("ignore_eos", true).put("temperature", 0)).encode()).append('\n');
        }
        String fileId = new JsonObject(upload(file.toString()).body()).getString("id");
        String batchId = new JsonObject(post("/v1/batches", new JsonObject().put("input_file_id", fileId).put("endpoint", "/v1/completions")
                .put("completion_window", "24h")).body()).getString("id");
        await().atMost(Duration.ofMinutes(2)).until(() -> batch(batchId).getJsonObject("request_counts").getInteger("completed") >= 3);
        worker.kill(0);
        int beforeKill = outputLines(batchId).size();
        assertThat(beforeKill).as("answered before the kill").isBetween(3, total - 1);

        worker.startShard(0);
        worker.awaitReady(Duration.ofSeconds(120));
        await().atMost(Duration.ofMinutes(4)).until(() -> batch(batchId).getString("status").equals("completed"));
        JsonObject done = batch(batchId);
        assertThat(done.getJsonObject("request_counts").getMap()).isEqualTo(Map.of("total", total, "completed", total, "failed", 0));
        HttpResponse<String> content = get("/v1/files/" + done.getString("output_file_id") + "/content");
        List<String> ids = new ArrayList<>();
        for (String l : content.body().split("\n")) ids.add(new JsonObject(l).getString("custom_id"));
        Set<String> expected = new HashSet<>();
        for (int i = 0; i < total; i++) expected.add("req-" + i);
        assertThat(ids).as("every request answered once").hasSize(total).containsExactlyInAnyOrderElementsOf(expected);
        System.out.println("batch resume: " + beforeKill + " of " + total + " answered before SIGKILL, the rest after the restart");
    }

    private static List<Object> fileIds() throws Exception {
        return new ArrayList<>(new JsonObject(get("/v1/files").body()).getJsonArray("data").stream()
                .map(f -> ((JsonObject) f).getValue("id")).toList());
    }

    private static List<String> outputLines(String batchId) throws Exception {
        Path out = logs.resolve("batches").resolve("batches").resolve(batchId).resolve("output.jsonl");
        return Files.readAllLines(out).stream().filter(l -> !l.isBlank()).toList();
    }

    static String line(String id, String url, String prompt) {
        return new JsonObject().put("custom_id", id).put("method", "POST").put("url", url)
                .put("body", new JsonObject().put("model", "tiny-axk1").put("prompt", prompt).put("max_tokens", 2)).encode();
    }

    static JsonObject batch(String id) throws Exception {
        return new JsonObject(get("/v1/batches/" + id).body());
    }

    static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(base() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, JsonObject body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(base() + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** multipart/form-data with purpose=batch and the file, as the openai client sends it. */
    static HttpResponse<String> upload(String content) throws Exception {
        String boundary = "nuri" + System.nanoTime();
        String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                + "Content-Type: application/jsonl\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
        return HTTP.send(HttpRequest.newBuilder(URI.create(base() + "/v1/files"))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
