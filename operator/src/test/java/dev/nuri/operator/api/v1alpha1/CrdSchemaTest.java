package dev.nuri.operator.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What users see of the CRD: defaults, descriptions, subresources, printer columns, CEL rules. */
class CrdSchemaTest {

    private final JsonNode crd = ApiFiles.readYaml(ApiFiles.COMMITTED_CRD);
    private final JsonNode spec = ApiFiles.crdSchema().at("/properties/spec");

    @Test
    void namesMatchTheContract() {
        assertThat(crd.at("/spec/group").asText()).isEqualTo("serving.nuri.dev");
        assertThat(crd.at("/spec/names/kind").asText()).isEqualTo("ModelDeployment");
        assertThat(crd.at("/spec/names/plural").asText()).isEqualTo("modeldeployments");
        assertThat(crd.at("/spec/names/shortNames/0").asText()).isEqualTo("md");
        assertThat(crd.at("/spec/scope").asText()).isEqualTo("Namespaced");
    }

    @Test
    void defaultsAreDeclaredInTheSchema() {
        Map<String, Object> expected = Map.ofEntries(
                Map.entry("/properties/replicas", 1),
                Map.entry("/properties/experts/properties/parallelism", 1),
                Map.entry("/properties/experts/properties/redundant", 0),
                Map.entry("/properties/experts/properties/placement", "static"),
                Map.entry("/properties/model/properties/quantization", "bf16"),
                Map.entry("/properties/accelerator/properties/profile", "cpu"),
                Map.entry("/properties/accelerator/properties/perShard", 1),
                Map.entry("/properties/serving/properties/port", 8000),
                Map.entry("/properties/serving/properties/peerPort", 9000),
                Map.entry("/properties/rollout/properties/maxUnavailableGroups", 1),
                Map.entry("/properties/rollout/properties/maxSurgeGroups", 0),
                Map.entry("/properties/autoscaling/properties/enabled", false),
                Map.entry("/properties/autoscaling/properties/scaleDownStabilizationSeconds", 300));
        expected.forEach((path, value) -> {
            JsonNode dflt = spec.at(path + "/default");
            assertThat(dflt.isMissingNode()).as("default of %s", path).isFalse();
            assertThat(dflt.isNumber() ? (Object) dflt.asInt() : dflt.isBoolean() ? (Object) dflt.asBoolean() : dflt.asText())
                    .as("default of %s", path).isEqualTo(value);
        });
    }

    @Test
    void everyNuriFieldHasADescription() {
        // Standard Kubernetes types (resources, tolerations, conditions) come from fabric8 without descriptions.
        Set<String> foreign = Set.of(".spec.resources", ".spec.scheduling.tolerations", ".status.conditions");
        List<String> missing = new ArrayList<>();
        collectMissingDescriptions(ApiFiles.crdSchema(), "", foreign, missing);
        assertThat(missing).as("fields without a description").isEmpty();
    }

    private static void collectMissingDescriptions(JsonNode node, String path, Set<String> foreign, List<String> missing) {
        node.path("properties").properties().forEach(e -> {
            String child = path + "." + e.getKey();
            if (!e.getValue().hasNonNull("description")) {
                missing.add(child);
            }
            if (!foreign.contains(child)) {
                collectMissingDescriptions(e.getValue(), child, foreign, missing);
            }
        });
        if (node.has("items")) {
            collectMissingDescriptions(node.get("items"), path, foreign, missing);
        }
    }

    @Test
    void scaleAndStatusSubresources() {
        JsonNode sub = crd.at("/spec/versions/0/subresources");
        assertThat(sub.has("status")).isTrue();
        assertThat(sub.at("/scale/specReplicasPath").asText()).isEqualTo(".spec.replicas");
        assertThat(sub.at("/scale/statusReplicasPath").asText()).isEqualTo(".status.replicas");
        assertThat(sub.at("/scale/labelSelectorPath").asText()).isEqualTo(".status.selector");
    }

    @Test
    void printerColumnsShowGroupsShardsAcceleratorModelReadyAndAge() {
        List<String> names = new ArrayList<>();
        crd.at("/spec/versions/0/additionalPrinterColumns").forEach(c -> names.add(c.get("name").asText()));
        assertThat(names).containsExactlyInAnyOrder("Ready", "Shards", "Accelerator", "Model", "Status", "Age");
    }

    @Test
    void celRulesCoverSourceDivisibilityRolloutAndImmutability() {
        assertThat(rules("/properties/model/properties/source")).anyMatch(r -> r.contains(".size() == 1"));
        assertThat(rules("/properties/experts")).anyMatch(r -> r.contains("% self.parallelism == 0"));
        assertThat(rules("/properties/rollout")).anyMatch(r -> r.contains("maxSurgeGroups > 0"));
        for (String immutable : List.of("/properties/model/properties/architecture",
                "/properties/experts/properties/total")) {
            assertThat(rules(immutable)).as(immutable).contains("self == oldSelf");
        }
        assertThat(rules("")).as("accelerator profile, compared on spec").anyMatch(r -> r.contains("oldSelf.accelerator.profile"));
    }

    private List<String> rules(String path) {
        List<String> rules = new ArrayList<>();
        spec.at(path + "/x-kubernetes-validations").forEach(r -> rules.add(r.get("rule").asText()));
        return rules;
    }
}
