package dev.nuri.worker.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fetch-model} against a file server of the test's own on loopback, as the init container runs it. */
class HttpModelSourceTest {

    HttpServer server;
    final Map<String, byte[]> files = new LinkedHashMap<>();
    @TempDir Path dest;

    @BeforeEach
    void serve() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = files.get(exchange.getRequestURI().getPath());
            if (body == null) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    @Test
    void aMatchingDigestUnpacksTheModelFolder() throws Exception {
        byte[] tar = tar(Map.of("config.json", "{\"model_type\":\"deepseek_v3\"}", "weights/model.safetensors", "w"));
        files.put("/axk1.tar", tar);
        HttpModelSource.fetch(url("/axk1.tar"), sha256(tar), dest);
        assertThat(dest.resolve("config.json")).hasContent("{\"model_type\":\"deepseek_v3\"}");
        assertThat(dest.resolve("weights/model.safetensors")).hasContent("w");
        assertThat(list(dest)).as("the download is removed").containsExactlyInAnyOrder("config.json", "weights");
    }

    @Test
    void aWrongDigestNamesBothDigestsAndUnpacksNothing() throws Exception {
        byte[] tar = tar(Map.of("config.json", "{}"));
        files.put("/axk1.tar", tar);
        String wrong = "0".repeat(64);
        assertThatThrownBy(() -> HttpModelSource.fetch(url("/axk1.tar"), wrong, dest))
                .isInstanceOf(HttpModelSource.FetchFailed.class)
                .hasMessage("the archive at " + url("/axk1.tar") + " has SHA-256 " + sha256(tar)
                        + ", but spec.model.source.http.sha256 is " + wrong + "; fix the digest or the URL (nothing was unpacked)");
        assertThat(list(dest)).isEmpty();
    }

    @Test
    void aMissingArchiveSaysTheHttpStatus() {
        assertThatThrownBy(() -> HttpModelSource.fetch(url("/nope.tar"), "0".repeat(64), dest))
                .isInstanceOf(HttpModelSource.FetchFailed.class)
                .hasMessage("cannot download " + url("/nope.tar") + ": HTTP 404");
    }

    @Test
    void anEntryThatClimbsOutOfTheModelFolderIsRejected() throws Exception {
        byte[] tar = tar(Map.of("../escaped.txt", "x"));
        files.put("/evil.tar", tar);
        Path inner = Files.createDirectories(dest.resolve("models"));
        assertThatThrownBy(() -> HttpModelSource.fetch(url("/evil.tar"), sha256(tar), inner))
                .isInstanceOf(HttpModelSource.FetchFailed.class)
                .hasMessageContaining("../escaped.txt points outside the model folder");
        assertThat(dest.resolve("escaped.txt")).doesNotExist();
    }

    /** The init container: the worker's own main, a real process; its failure lands in the termination log. */
    @Test
    void theFetchModelCommandExitsNonZeroAndWritesTheTerminationMessage() throws Exception {
        files.put("/axk1.tar", tar(Map.of("config.json", "{}")));
        Path log = Files.createTempFile("termination", ".log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.nuri.worker.WorkerMain", "fetch-model",
                "--url", url("/axk1.tar").toString(), "--sha256", "1".repeat(64),
                "--dest", dest.resolve("models").toString(), "--termination-log", log.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(1);
        assertThat(Files.readString(log)).startsWith("the archive at " + url("/axk1.tar") + " has SHA-256 ")
                .endsWith("but spec.model.source.http.sha256 is " + "1".repeat(64) + "; fix the digest or the URL (nothing was unpacked)");
        assertThat(out).contains("nuri-worker fetch-model: the archive at");
    }

    static byte[] tar(Map<String, String> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            for (var e : entries.entrySet()) {
                byte[] data = e.getValue().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry entry = new TarArchiveEntry(e.getKey(), true);
                entry.setSize(data.length);
                tar.putArchiveEntry(entry);
                tar.write(data);
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(f -> f.getFileName().toString()).toList();
        }
    }
}
