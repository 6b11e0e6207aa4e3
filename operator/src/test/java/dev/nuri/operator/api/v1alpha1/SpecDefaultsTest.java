package dev.nuri.operator.api.v1alpha1;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The operator reads defaults through the spec classes' accessors ({@code serving().port()}); the
 * API server fills them from the CRD. Both must say the same, for every default the CRD declares.
 */
class SpecDefaultsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyCrdDefaultHasAnAccessorThatReturnsIt() throws Exception {
        JsonNode spec = ApiFiles.readYaml(ApiFiles.GENERATED_CRD).at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
        List<String> compared = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        walk(spec, new ModelDeploymentSpec(), "spec", compared, wrong);

        assertThat(wrong).as("CRD defaults the accessors disagree with").isEmpty();
        // a walk that found nothing would prove nothing
        assertThat(compared).as("defaults compared").hasSizeGreaterThanOrEqualTo(19)
                .contains("spec.replicas", "spec.serving.peerPort", "spec.experts.parallelism",
                        "spec.model.source.pvc.path", "spec.serving.apiKeySecret.key");
    }

    @Test
    void anAbsentSectionReadsAsAllDefaults() {
        ModelDeploymentSpec spec = new ModelDeploymentSpec();
        assertThat(spec.replicas()).isEqualTo(1);
        assertThat(spec.serving().port()).isEqualTo(8000);
        assertThat(spec.rollout().maxUnavailableGroups()).isEqualTo(1);
        assertThat(spec.rollout().maxSurgeGroups()).isZero();
        assertThat(spec.accelerator().profile()).isEqualTo(AcceleratorProfile.CPU);
        assertThat(spec.scheduling().groupTopologyKey()).isEqualTo("topology.kubernetes.io/zone");
        assertThat(spec.autoscaling().enabled()).isFalse();
    }

    @Test
    void aSetValueWinsOverItsDefault() {
        ModelDeploymentSpec spec = new ModelDeploymentSpec();
        spec.replicas = 0;
        spec.scheduling = new SchedulingSpec();
        spec.scheduling.groupTopologyKey = ""; // blank switches packing off; it is not "unset"
        spec.experts = new ExpertsSpec();
        spec.experts.total = 192;
        spec.experts.parallelism = 16;
        spec.experts.redundant = 32;
        assertThat(spec.replicas()).isZero();
        assertThat(spec.scheduling().groupTopologyKey()).isEmpty();
        assertThat(spec.experts.slotsPerShard()).isEqualTo(14);
    }

    /** Compares each {@code default} under {@code schema} with the same-named accessor of {@code object}. */
    private static void walk(JsonNode schema, Object object, String path, List<String> compared, List<String> wrong)
            throws Exception {
        for (Map.Entry<String, JsonNode> property : schema.path("properties").properties()) {
            String name = property.getKey();
            JsonNode child = property.getValue();
            String childPath = path + "." + name;
            Field field = object.getClass().getField(name);
            if (child.has("default")) {
                Method accessor = accessor(object.getClass(), name);
                if (accessor == null) {
                    wrong.add(childPath + ": the CRD defaults it to " + child.get("default") + " but "
                            + object.getClass().getSimpleName() + " has no accessor " + name + "()");
                    continue;
                }
                JsonNode javaDefault = JSON.valueToTree(accessor.invoke(object));
                if (!javaDefault.equals(child.get("default"))) {
                    wrong.add(childPath + ": CRD " + child.get("default") + ", " + object.getClass().getSimpleName()
                            + "." + name + "() " + javaDefault);
                }
                compared.add(childPath);
            }
            Class<?> type = field.getType();
            if (type.getPackageName().equals(ModelDeploymentSpec.class.getPackageName()) && !type.isEnum()) {
                // an absent section reads through its accessor where there is one, as the operator reads it
                Method accessor = accessor(object.getClass(), name);
                Object nested = accessor != null ? accessor.invoke(object) : type.getConstructor().newInstance();
                walk(child, nested, childPath, compared, wrong);
            }
        }
    }

    private static Method accessor(Class<?> type, String name) {
        try {
            return type.getMethod(name);
        } catch (NoSuchMethodException e) {
            return null;
        }
    }
}
