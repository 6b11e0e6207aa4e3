package dev.nuri.worker.api;

import dev.nuri.worker.group.LocalGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The official {@code openai} Python client, unmodified, against a real shard process (builtin:tiny-axk1-tools): tool
 * call round trip, streamed tool-call deltas reassembled by the client's stream helper, and a JSON-schema
 * response_format parsed into a pydantic model (src/test/python/openai_client_check.py). The client is installed from
 * PyPI into a virtualenv under ~/.cache/nuri on first use.
 */
class OpenAiPythonClientTest {
    static final String OPENAI_VERSION = "3.57.0";
    static final Path VENV = Path.of(System.getProperty("user.home"), ".cache", "nuri", "openai-venv-" + OPENAI_VERSION);
    static LocalGroup worker;
    static Path logs;

    @BeforeAll
    static void start() throws Exception {
        logs = Files.createDirectories(Path.of("target", "group-logs", "openai-client-" + System.nanoTime()));
        worker = LocalGroup.start(new LocalGroup.Spec(1, "builtin:tiny-axk1-tools", 0, 0, System.getProperty("java.class.path"), "256m",
                Map.of("NURI_TOOL_CALL_PARSER", "deepseek_v3"), logs));
        worker.awaitReady(Duration.ofSeconds(120));
    }

    @AfterAll
    static void stop() {
        if (worker != null) worker.close();
    }

    /** python3 -m venv + pip install openai==OPENAI_VERSION, once; a failed install leaves no half-made venv behind. */
    static Path python() throws Exception {
        return venv(VENV, List.of("openai==" + OPENAI_VERSION));
    }

    /** The python of a virtualenv with these pinned PyPI packages, made once under ~/.cache/nuri. */
    static Path venv(Path venv, List<String> packages) throws Exception {
        Path python = venv.resolve("bin/python");
        if (Files.exists(venv.resolve(".installed"))) return python;
        if (Files.exists(venv)) deleteTree(venv);
        try {
            Path logs = Files.createDirectories(Path.of("target", "group-logs"));
            run(List.of("python3", "-m", "venv", venv.toString()), Duration.ofMinutes(2), logs);
            List<String> pip = new java.util.ArrayList<>(List.of(venv.resolve("bin/pip").toString(), "install", "-q"));
            pip.addAll(packages);
            run(pip, Duration.ofMinutes(5), logs);
        } catch (Throwable e) {
            if (Files.exists(venv)) deleteTree(venv);
            throw e;
        }
        Files.writeString(venv.resolve(".installed"), String.join(" ", packages));
        return python;
    }

    /** Runs a command to its end (its output to a file, so a chatty one cannot block on a full pipe). */
    static String run(List<String> command, Duration limit) throws Exception {
        return run(command, limit, logs);
    }

    static String run(List<String> command, Duration limit, Path logs) throws Exception {
        Path out = Files.createTempFile(logs, "run-", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " ran longer than " + limit + ":\n" + Files.readString(out));
        }
        String text = Files.readString(out);
        assertThat(p.exitValue()).as(String.join(" ", command) + " printed:\n" + text).isZero();
        return text;
    }

    static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }

    @Test
    void theOfficialClientCallsToolsStreamsThemAndParsesSchemaOutput() throws Exception {
        Path python = python();
        String out = run(List.of(python.toString(), "src/test/python/openai_client_check.py",
                "http://127.0.0.1:" + worker.httpPort(0) + "/v1"), Duration.ofMinutes(5));
        System.out.println(out);
        assertThat(out).contains("all checks passed");
    }
}
