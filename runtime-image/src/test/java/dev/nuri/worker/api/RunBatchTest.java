package dev.nuri.worker.api;

import dev.nuri.worker.group.LocalGroup;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code nuri-worker run-batch} as a real process against a real worker process: killed with SIGKILL mid-run and run
 * again, it answers every request exactly once, and its teacher file (top-k log-probabilities as safetensors) is read
 * by Python's safetensors package and checked against the JSONL output (src/test/python/teacher_check.py).
 */
class RunBatchTest {
    static final Path VENV = Path.of(System.getProperty("user.home"), ".cache", "nuri", "safetensors-venv-0.8.0");
    static LocalGroup worker;
    static Path logs;

    @BeforeAll
    static void start() throws Exception {
        logs = Files.createDirectories(Path.of("target", "group-logs", "run-batch-" + System.nanoTime()));
        worker = LocalGroup.start(new LocalGroup.Spec(1, "builtin:tiny-axk1", 0, 0, System.getProperty("java.class.path"), "256m",
                Map.of(), logs));
        worker.awaitReady(Duration.ofSeconds(120));
    }

    @AfterAll
    static void stop() {
        if (worker != null) worker.close();
    }

    Process runBatch(Path in, Path out, Path teacher, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), "dev.nuri.worker.WorkerMain", "run-batch",
                "-i", in.toString(), "-o", out.toString(), "--url", "http://127.0.0.1:" + worker.httpPort(0), "--concurrency", "2",
                "--teacher-out", teacher.toString(), "--teacher-top-k", "4")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    @Test
    void killedMidRunAndRunAgainItAnswersEveryRequestOnceAndWritesTheTeacherFile() throws Exception {
        int total = 24;
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < total; i++) {
            String url = i % 3 == 0 ? "/v1/chat/completions" : "/v1/completions";
            JsonObject body = new JsonObject().put("model", "tiny-axk1").put("max_tokens", 12).put("ignore_eos", true);
            if (url.contains("chat")) body.put("messages", new io.vertx.core.json.JsonArray().add(new JsonObject().put("role", "user").put("content", "Hi " + i)));
            else body.put("prompt", "Count to " + i);
            file.append(new JsonObject().put("custom_id", "req-" + i).put("method", "POST").put("url", url).put("body", body).encode()).append('\n');
        }
        file.append(new JsonObject().put("custom_id", "bad").put("method", "POST").put("url", "/v1/completions")
                .put("body", new JsonObject().put("model", "tiny-axk1").put("prompt", "x").put("temperature", -3)).encode()).append('\n');
        Path in = Files.writeString(logs.resolve("in.jsonl"), file);
        Path out = logs.resolve("out.jsonl"), teacher = logs.resolve("teacher.safetensors"), log = logs.resolve("run-batch.log");

        Process first = runBatch(in, out, teacher, log);
        await().atMost(Duration.ofMinutes(2)).until(() -> Files.exists(out) && Files.readAllLines(out).size() >= 4);
        first.destroyForcibly(); // SIGKILL
        assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        int beforeKill = Files.readAllLines(out).size();
        assertThat(beforeKill).as("answered before the kill").isLessThan(total + 1);

        Process second = runBatch(in, out, teacher, log);
        assertThat(second.waitFor(4, TimeUnit.MINUTES)).as("run-batch finishes; log:\n" + Files.readString(log)).isTrue();
        assertThat(Files.readString(log)).contains("already answered in");
        List<String> ids = new ArrayList<>();
        int errors = 0;
        for (String l : Files.readAllLines(out)) {
            JsonObject o = new JsonObject(l);
            ids.add(o.getString("custom_id"));
            if (o.getValue("error") != null) {
                errors++;
                assertThat(o.getJsonObject("response").getInteger("status_code")).isEqualTo(400);
                assertThat(o.getJsonObject("error").getString("message")).contains("temperature");
            }
        }
        assertThat(ids).as("every request once").hasSize(total + 1).doesNotHaveDuplicates();
        assertThat(errors).isEqualTo(1);
        assertThat(second.exitValue()).as("exit status with one request failed: the batch ran whole").isZero();

        Path python = OpenAiPythonClientTest.venv(VENV, List.of("safetensors==0.8.0", "numpy==2.4.6"));
        String check = OpenAiPythonClientTest.run(List.of(python.toString(), "src/test/python/teacher_check.py", teacher.toString(),
                out.toString(), "4"), Duration.ofMinutes(2), logs);
        System.out.println("run-batch: " + beforeKill + " of " + (total + 1) + " answered before SIGKILL; " + check);
        assertThat(check).contains("all checks passed");
    }
}
