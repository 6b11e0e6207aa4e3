package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Where the committed API artefacts live, seen from the operator module's tests. */
final class ApiFiles {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final Path MODULE = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
    static final Path REPO = MODULE.getParent();
    static final String CRD_FILE = "modeldeployments.serving.nuri.dev-v1.yml";
    static final Path COMMITTED_CRD = REPO.resolve("crds").resolve(CRD_FILE);
    static final Path GENERATED_CRD = MODULE.resolve("target/crds").resolve(CRD_FILE);
    static final Path CORPUS = MODULE.resolve("src/test/resources/crd-corpus");

    private ApiFiles() {}

    static List<Path> yamlFiles(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode readYaml(Path file) {
        try {
            return YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The openAPIV3Schema of the committed CRD. */
    static JsonNode crdSchema() {
        return readYaml(COMMITTED_CRD).at("/spec/versions/0/schema/openAPIV3Schema");
    }
}
