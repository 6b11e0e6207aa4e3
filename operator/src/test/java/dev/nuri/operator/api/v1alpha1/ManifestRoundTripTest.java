package dev.nuri.operator.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every example and valid manifest reads into the Java API and writes back unchanged. */
class ManifestRoundTripTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    static Stream<Path> manifests() {
        return Stream.concat(ApiFiles.yamlFiles(ApiFiles.REPO.resolve("examples")).stream(),
                ApiFiles.yamlFiles(ApiFiles.CORPUS.resolve("valid")).stream());
    }

    @ParameterizedTest
    @MethodSource("manifests")
    void roundTripsWithoutLoss(Path manifest) throws Exception {
        ModelDeployment md = SERIALIZATION.unmarshal(Files.readString(manifest), ModelDeployment.class);
        assertThat(md.getSpec().model.source).as("source of %s", manifest).isNotNull();

        JsonNode original = ApiFiles.readYaml(manifest);
        JsonNode written = ApiFiles.YAML.readTree(SERIALIZATION.asYaml(md));
        assertThat(written).as("%s after a round trip", manifest.getFileName()).isEqualTo(original);
    }

    @ParameterizedTest
    @MethodSource("manifests")
    void examplesAreModelDeployments(Path manifest) {
        JsonNode node = ApiFiles.readYaml(manifest);
        assertThat(node.get("apiVersion").asText()).isEqualTo("serving.nuri.dev/v1alpha1");
        assertThat(node.get("kind").asText()).isEqualTo("ModelDeployment");
    }
}
