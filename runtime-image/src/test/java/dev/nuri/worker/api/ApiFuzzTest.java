package dev.nuri.worker.api;

import dev.nuri.worker.group.LocalGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * schemathesis (PyPI, venv made by hack/fuzz-api) against a real worker process and its own /openapi.json: no
 * 5xx, responses as documented (every error an OpenAI error object), schema-invalid requests refused with 4xx,
 * no request past the timeout. Bounded here (-Dnuri.fuzz.maxTime, -Dnuri.fuzz.maxExamples); hack/fuzz-api long
 * runs it for longer. Tagged long: {@code -DexcludedGroups=long} leaves it out of a quick run.
 */
@Tag("long")
class ApiFuzzTest {
    static final long MAX_TIME = Long.getLong("nuri.fuzz.maxTime", 90);
    static final int MAX_EXAMPLES = Integer.getInteger("nuri.fuzz.maxExamples", 40);
    static LocalGroup worker;
    static Path logs;

    @BeforeAll
    static void start() throws Exception {
        logs = Files.createDirectories(Path.of("target", "fuzz", "run-" + System.nanoTime()));
        // a short context keeps every generation the fuzzer asks for short
        worker = LocalGroup.start(new LocalGroup.Spec(1, "builtin:tiny-axk1", 0, 0, System.getProperty("java.class.path"),
                "256m", Map.of("NURI_CONTEXT_LENGTH", "48", "NURI_HTTP_REQUEST_READ_TIMEOUT_SECONDS", "5"), logs));
        worker.awaitReady(Duration.ofSeconds(120));
    }

    @AfterAll
    static void stop() {
        if (worker != null) worker.close();
    }

    @Test
    void noServerErrorsNoHangsAndEveryResponseAsDocumented() throws Exception {
        Path root = Path.of("").toAbsolutePath().getParent();
        String schemathesis = run(List.of(root.resolve("hack/fuzz-api").toString(), "setup"), Duration.ofMinutes(10)).trim();
        String base = "http://127.0.0.1:" + worker.httpPort(0);
        List<String> command = new ArrayList<>(List.of(schemathesis, "run", base + "/openapi.json", "--url", base,
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        + "response_schema_conformance,negative_data_rejection",
                "--max-examples", Integer.toString(MAX_EXAMPLES), "--max-time", Long.toString(MAX_TIME),
                "--request-timeout", "30", "--seed", "18", "--workers", "2",
                // not the coverage phase: its generator crashed inside Python 3.11's ast module on /tokenize's body
                // ("SystemError: AST constructor recursion depth mismatch"), twice in five runs, with no request sent
                "--phases", "examples,fuzzing,stateful",
                "--report", "junit,ndjson", "--report-dir", logs.toAbsolutePath().toString()));
        String out = run(command, Duration.ofSeconds(MAX_TIME + 300));
        Files.writeString(logs.resolve("schemathesis.txt"), out);
        Matcher generated = Pattern.compile("(\\d+) generated").matcher(out);
        assertThat(generated.find()).as("schemathesis' summary:\n" + out).isTrue();
        System.out.println("schemathesis: " + generated.group(0) + " test cases; output in " + logs.toAbsolutePath());
        assertThat(Integer.parseInt(generated.group(1))).as("generated requests").isGreaterThan(200);
        assertThat(out).as("schemathesis output (it exited 0)").doesNotContain("Server error").doesNotContain("failure");
        assertThat(worker.process(0).isAlive()).as("the worker survived").isTrue();
    }

    /** Runs a command in the run's log folder (schemathesis keeps its cache there); fails unless it exits 0 in time. */
    static String run(List<String> command, Duration limit) throws IOException, InterruptedException {
        Path output = Files.createTempFile(logs.toAbsolutePath(), "cmd", ".txt");
        Process p = new ProcessBuilder(command).directory(logs.toAbsolutePath().toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile()).start();
        if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command.get(0) + " ran past " + limit + "; output in " + output);
        }
        String text = Files.readString(output, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(String.join(" ", command) + " exit status; output:\n" + text).isZero();
        return text;
    }
}
