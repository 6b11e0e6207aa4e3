package dev.nuri.worker;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layering of the worker's MoE path: the engine calls the expert layer (moe), which uses the transport; the
 * transport knows neither, and the engine does not know the transport (a lost peer reaches it as
 * ExpertsUnavailableException).
 */
class PackageDependencyTest {
    static final Path MAIN = Path.of("src/main/java/dev/nuri/worker");

    @Test
    void transportImportsNeitherMoeNorEngine() throws IOException {
        assertThat(imports("transport")).noneMatch(i -> i.startsWith("dev.nuri.worker.moe") || i.startsWith("dev.nuri.worker.engine"));
    }

    @Test
    void engineDoesNotKnowTheTransport() throws IOException {
        assertThat(imports("engine")).noneMatch(i -> i.startsWith("dev.nuri.worker.transport"));
    }

    static List<String> imports(String pkg) throws IOException {
        try (Stream<Path> files = Files.list(MAIN.resolve(pkg))) {
            return files.filter(f -> f.toString().endsWith(".java")).flatMap(f -> {
                try {
                    return Files.readAllLines(f).stream();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).filter(l -> l.startsWith("import ")).map(l -> l.substring("import ".length()).replace(";", "").trim()).toList();
        }
    }
}
