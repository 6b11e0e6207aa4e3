package dev.nuri.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The CRD as the real API server enforces it: CEL rules, defaults, printer columns, scale subresource. */
@ExtendWith(KubernetesClusterExtension.class)
class ModelDeploymentApiTest {

    static final String NS = "api-test";
    static final Path CORPUS = TestCluster.REPO.resolve("operator/src/test/resources/crd-corpus");
    static TestCluster cluster;

    @BeforeAll
    static void installCrd(TestCluster c) {
        cluster = c;
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            CustomResourceDefinition crd = c.client().apiextensions().v1().customResourceDefinitions()
                    .withName("modeldeployments.serving.nuri.dev").get();
            assertThat(crd.getStatus().getConditions())
                    .anyMatch(cond -> cond.getType().equals("Established") && cond.getStatus().equals("True"));
        });
        c.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
                .serverSideApply();
        // explain reads the published OpenAPI, which follows the CRD a moment later
        await().atMost(Duration.ofSeconds(60)).until(() -> c.kubectl("explain", "modeldeployment.spec").exitCode() == 0);
    }

    @Test
    void explainPrintsFieldDescriptions() {
        String out = cluster.kubectl("explain", "modeldeployment.spec.experts").assertSuccess().stdout();
        assertThat(out).contains("How the routed experts are spread over the shards of each group")
                .contains("parallelism").contains("Must divide total + redundant")
                .contains("redundant").contains("placement").contains("total");
    }

    static Stream<Path> accepted() throws IOException {
        return Stream.concat(files(TestCluster.REPO.resolve("examples")), files(CORPUS.resolve("valid")));
    }

    @ParameterizedTest
    @MethodSource("accepted")
    void validManifestIsAccepted(Path manifest) {
        cluster.kubectl("apply", "-n", NS, "-f", manifest.toString()).assertSuccess();
    }

    static Stream<Path> rejected() throws IOException {
        return files(CORPUS.resolve("invalid"));
    }

    @ParameterizedTest
    @MethodSource("rejected")
    void invalidManifestIsRejectedNamingTheField(Path manifest) throws IOException {
        TestCluster.Result result = cluster.kubectl("apply", "-n", NS, "-f", manifest.toString());
        assertThat(result.exitCode()).as("kubectl apply of %s", manifest.getFileName()).isNotZero();
        expectation(manifest).assertRejects(result.stderr());
    }

    static Stream<Path> rejectedUpdates() throws IOException {
        return files(CORPUS.resolve("invalid-updates"));
    }

    /** The same object is first created valid (the minimal manifest under this name), then changed. */
    @ParameterizedTest
    @MethodSource("rejectedUpdates")
    void changeToImmutableFieldIsRejected(Path manifest) throws IOException {
        String name = manifest.getFileName().toString().replace(".yaml", "");
        String original = Files.readString(CORPUS.resolve("valid/minimal.yaml")).replace("name: minimal", "name: " + name);
        Path tmp = Files.createTempFile(name, ".yaml");
        Files.writeString(tmp, original);
        cluster.kubectl("apply", "-n", NS, "-f", tmp.toString()).assertSuccess();

        TestCluster.Result result = cluster.kubectl("apply", "-n", NS, "-f", manifest.toString());
        assertThat(result.exitCode()).isNotZero();
        expectation(manifest).assertRejects(result.stderr());
    }

    @Test
    void parallelismMessageSuggestsValidDegrees() throws IOException {
        Path manifest = CORPUS.resolve("invalid/parallelism-not-divisor-with-redundant.yaml");
        String err = cluster.kubectl("apply", "-n", NS, "-f", manifest.toString()).stderr();
        // 192 experts + 8 redundant = 200 slots; 16 does not divide 200
        assertThat(err).contains("experts.parallelism 16 must divide total + redundant = 200")
                .contains("valid degrees: [1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200]");
    }

    @Test
    void defaultsAreAppliedByTheServer() {
        cluster.kubectl("apply", "-n", NS, "-f", CORPUS.resolve("valid/defaults-only.yaml").toString()).assertSuccess();
        ModelDeployment md = cluster.client().resources(ModelDeployment.class).inNamespace(NS).withName("defaults-only").get();
        assertThat(md.getSpec().replicas).isEqualTo(1);
        assertThat(md.getSpec().experts.parallelism).isEqualTo(1);
        assertThat(md.getSpec().experts.redundant).isZero();
        assertThat(md.getSpec().model.quantization.name()).isEqualTo("BF16");
    }

    @Test
    void kubectlScaleDrivesSpecReplicasAndGetShowsColumns() {
        cluster.kubectl("apply", "-n", NS, "-f", TestCluster.REPO.resolve("examples/tiny-cpu.yaml").toString()).assertSuccess();
        cluster.kubectl("scale", "-n", NS, "md/tiny", "--replicas=3").assertSuccess();
        assertThat(cluster.client().resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getSpec().replicas)
                .isEqualTo(3);

        String table = cluster.kubectl("get", "md", "-n", NS, "tiny").assertSuccess().stdout();
        assertThat(table.lines().findFirst().orElseThrow().split("\\s+"))
                .contains("NAME", "READY", "SHARDS", "ACCELERATOR", "MODEL", "STATUS", "AGE");
        assertThat(table).contains("tiny-axk1").contains("cpu");
    }

    /**
     * The first line of a corpus manifest, {@code # expect: <leaf field>: <message fragment>}: the API
     * server must report an error on exactly that field (not a parent or a sibling) whose text has
     * that fragment, so a rejection for another reason does not pass.
     */
    record Expectation(String manifest, String field, String fragment) {
        void assertRejects(String stderr) {
            // kubectl prints one error after "is invalid: ", or several as "* <field>: <text>" lines
            List<String> errors = Stream.of(stderr.split("\\n\\* |\\n|(?<=is invalid: \\[?)|, (?=spec\\.)"))
                    .map(String::strip).filter(e -> !e.isEmpty()).toList();
            assertThat(errors).as("errors for %s, expecting one on %s containing \"%s\"", manifest, field, fragment)
                    .anySatisfy(e -> assertThat(e).startsWith(field + ": ").contains(fragment));
        }
    }

    static Expectation expectation(Path manifest) throws IOException {
        String first = Files.readAllLines(manifest).getFirst();
        assertThat(first).as("first line of %s", manifest).startsWith("# expect: spec.");
        String[] parts = first.substring("# expect: ".length()).split(": ", 2);
        assertThat(parts).as("%s names a field and a message fragment", manifest).hasSize(2);
        assertThat(parts[1]).as("message fragment of %s", manifest).hasSizeGreaterThanOrEqualTo(10);
        return new Expectation(manifest.getFileName().toString(), parts[0], parts[1]);
    }

    static Stream<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> list = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
            return list.stream();
        }
    }
}
