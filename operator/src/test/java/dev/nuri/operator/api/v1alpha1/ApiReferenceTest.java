package dev.nuri.operator.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/api-reference.md is rendered from the committed CRD, so the reference cannot drift from
 * what the API server enforces. Regenerate with: ./mvnw -pl operator test -Dtest=ApiReferenceTest -Dnuri.update-docs=true
 */
class ApiReferenceTest {

    private static final Path REFERENCE = ApiFiles.REPO.resolve("docs/api-reference.md");

    @Test
    void referenceMatchesTheCrd() throws Exception {
        String rendered = render(ApiFiles.crdSchema());
        if (Boolean.getBoolean("nuri.update-docs")) {
            Files.writeString(REFERENCE, rendered);
        }
        assertThat(REFERENCE).as("docs/api-reference.md; regenerate it, see this test's javadoc").exists();
        assertThat(Files.readString(REFERENCE)).isEqualTo(rendered);
    }

    static String render(JsonNode root) {
        StringBuilder out = new StringBuilder("""
                # ModelDeployment API reference (serving.nuri.dev/v1alpha1)

                Generated from `crds/modeldeployments.serving.nuri.dev-v1.yml` by `ApiReferenceTest`; do not edit.
                Concepts, validation and immutability are explained in [api.md](api.md).

                | field | type | default | description |
                |---|---|---|---|
                """);
        walk(root.path("properties").path("spec"), "spec", out);
        walk(root.path("properties").path("status"), "status", out);
        return out.toString();
    }

    private static void walk(JsonNode node, String path, StringBuilder out) {
        String type = node.has("enum") ? "enum: " + join(node.get("enum"))
                : node.path("x-kubernetes-int-or-string").asBoolean() ? "quantity"
                : node.path("type").asText("object");
        String dflt = node.has("default") ? "`" + node.get("default").asText() + "`" : "";
        out.append("| `").append(path).append("` | ").append(type).append(" | ").append(dflt).append(" | ")
                .append(node.path("description").asText("").replace("|", "\\|").replace("\n", " ")).append(" |\n");
        if (path.equals("spec.resources") || path.equals("spec.scheduling.tolerations[]")
                || path.equals("status.conditions[]")) {
            return; // standard Kubernetes types, documented upstream
        }
        node.path("properties").properties().forEach(e -> walk(e.getValue(), path + "." + e.getKey(), out));
        if (node.has("items")) {
            walk(node.get("items"), path + "[]", out);
        }
    }

    private static String join(JsonNode values) {
        StringBuilder sb = new StringBuilder();
        values.forEach(v -> sb.append(sb.isEmpty() ? "" : ", ").append('`').append(v.asText()).append('`'));
        return sb.toString();
    }
}
