package dev.nuri.operator.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/reliability.md's fault table says which test or script proves each invariant. A test named there must exist
 * (a rewrite once dropped two of them while the table still named them), and so must a script it tells users to run.
 */
class ReliabilityTableTest {

    private static final Path TABLE = ApiFiles.REPO.resolve("docs/reliability.md");
    /** `SomeTest`, `SomeIT`, `SomeTest#method` or `SomeTest#prefix*`. */
    private static final Pattern TEST = Pattern.compile("`([A-Z][A-Za-z0-9]*(?:Test|IT))(?:#([A-Za-z0-9_]+)\\*?)?`");
    private static final Pattern SCRIPT = Pattern.compile("`(hack/[A-Za-z0-9_./-]+)");

    @Test
    void everyTestTheTableNamesExists() throws IOException {
        List<String> missing = new ArrayList<>();
        int named = 0;
        for (String row : rows()) {
            Matcher m = TEST.matcher(row);
            while (m.find()) {
                named++;
                Optional<Path> source = testSource(m.group(1));
                if (source.isEmpty()) {
                    missing.add(m.group(1) + " (no such test class)");
                } else if (m.group(2) != null && !Files.readString(source.get()).contains("void " + m.group(2))) {
                    missing.add(m.group(1) + "#" + m.group(2) + " (no such method in " + ApiFiles.REPO.relativize(source.get()) + ")");
                }
            }
        }
        assertThat(named).as("tests named in docs/reliability.md's table").isGreaterThan(20);
        assertThat(missing).as("tests docs/reliability.md names that do not exist").isEmpty();
    }

    @Test
    void everyScriptTheTableNamesExists() throws IOException {
        List<String> scripts = rows().stream().flatMap(row -> SCRIPT.matcher(row).results().map(r -> r.group(1))).toList();
        assertThat(scripts).as("scripts named in docs/reliability.md's table").isNotEmpty();
        assertThat(scripts).allSatisfy(s -> assertThat(ApiFiles.REPO.resolve(s)).as(s).isExecutable());
    }

    /** The table rows: the last column says how to rerun, but tests are named in the result column too. */
    private static List<String> rows() throws IOException {
        return Files.readAllLines(TABLE).stream().filter(l -> l.startsWith("| ") && !l.startsWith("| fault |")).toList();
    }

    private static Optional<Path> testSource(String className) {
        try (Stream<Path> modules = Files.list(ApiFiles.REPO)) {
            for (Path module : modules.toList()) {
                Path tests = module.resolve("src/test/java");
                if (!Files.isDirectory(tests)) continue;
                try (Stream<Path> files = Files.walk(tests)) {
                    Optional<Path> found = files.filter(f -> f.getFileName().toString().equals(className + ".java")).findFirst();
                    if (found.isPresent()) return found;
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
