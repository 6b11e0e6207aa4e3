package dev.nuri.operator.dependents;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The desired state of a group being drained: what it runs now, at zero replicas, nothing else. */
class GroupStatefulSetsTest {

    static ModelDeployment tiny() throws Exception {
        ModelDeployment md = new KubernetesSerialization().unmarshal(Files.readString(Path.of(System.getProperty("basedir", "."))
                .toAbsolutePath().normalize().getParent().resolve("examples/tiny-cpu.yaml")), ModelDeployment.class);
        md.getMetadata().setNamespace("team");
        md.getMetadata().setGeneration(1L); // as the API server sets it
        return md;
    }

    @Test
    void aDrainedGroupKeepsItsTemplateAndAppliesOnlyItsOwnFields() throws Exception {
        ModelDeployment md = tiny();
        StatefulSet applied = GroupStatefulSets.build(md, 1, "nuri-worker:old", "r-old");
        // as the API server returns it: defaults, server-set metadata, status
        StatefulSet live = new StatefulSetBuilder(applied)
                .editMetadata().withResourceVersion("41").withUid("u-1").withGeneration(3L)
                    .withCreationTimestamp("2026-11-30T08:00:00Z").addNewManagedField().withManager("nuri").endManagedField()
                    .addToAnnotations("deployment.kubernetes.io/revision", "2").endMetadata()
                .editSpec().withRevisionHistoryLimit(10).endSpec()
                .withNewStatus().withReplicas(4).withReadyReplicas(4).endStatus()
                .build();
        md.getSpec().resources.getRequests().put("cpu", new io.fabric8.kubernetes.api.model.Quantity("300m")); // a new revision

        StatefulSet drained = GroupStatefulSets.drained(md, 1, live);
        assertThat(drained.getSpec().getReplicas()).isZero();
        assertThat(drained.getSpec().getTemplate()).as("pods are not changed, only stopped").isEqualTo(applied.getSpec().getTemplate());
        assertThat(drained.getSpec().getSelector()).isEqualTo(applied.getSpec().getSelector());
        assertThat(drained.getMetadata().getName()).isEqualTo("tiny-g1");
        assertThat(drained.getMetadata().getLabels()).isEqualTo(applied.getMetadata().getLabels());
        assertThat(drained.getMetadata().getAnnotations()).as("only the applied hash, not other writers' annotations")
                .isEqualTo(applied.getMetadata().getAnnotations());
        assertThat(drained.getMetadata().getResourceVersion()).isNull();
        assertThat(drained.getMetadata().getManagedFields()).isEmpty();
        assertThat(drained.getStatus()).isNull();
        assertThat(live.getSpec().getReplicas()).as("the cached object is not modified").isEqualTo(4);
    }

    @Test
    void theMatcherSeesADrainUntilTheGroupIsAtZero() throws Exception {
        ModelDeployment md = tiny();
        StatefulSet live = GroupStatefulSets.build(md, 0, "nuri-worker:old", "r-old");
        assertThat(GroupStatefulSets.sameApplied(live, GroupStatefulSets.drained(md, 0, live))).isFalse();
        StatefulSet atZero = new StatefulSetBuilder(live).editSpec().withReplicas(0).endSpec().build();
        assertThat(GroupStatefulSets.sameApplied(atZero, GroupStatefulSets.drained(md, 0, atZero))).isTrue();
    }
}
