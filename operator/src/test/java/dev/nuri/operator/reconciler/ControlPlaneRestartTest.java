package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.LocalControlPlane;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The API server and etcd of the plane restarted mid-rollout (issue 18 item 4): every watch the operator holds is
 * dropped and every write fails while they are down. The rollout still finishes, group by group, no group serves two
 * revisions at once, nothing is left half-applied (every group's StatefulSet at the new revision, no surge group left
 * over) and an object the operator does not own survives. A restart of the API server takes a minute and more on a
 * loaded machine, so this is not in {@code hack/test}: {@code hack/control-plane-restart-test} runs it on a plane of
 * its own (docs/reliability.md).
 */
@Tag("control-plane-restart")
@ExtendWith(KubernetesClusterExtension.class)
class ControlPlaneRestartTest {
    static final String NS = "cp-restart";
    static final int GROUPS = 3;
    /** Restarts included: the API server alone takes 60-80 s to come back on a loaded 2-core machine. */
    static final Duration TIMEOUT = Duration.ofMinutes(6);
    static LocalControlPlane plane;
    static KubernetesClient client;
    static OperatorHarness operator;

    @BeforeAll
    static void start(TestCluster c) {
        Assumptions.assumeTrue(c instanceof LocalControlPlane, "restarts the plane's own API server and etcd");
        plane = (LocalControlPlane) c;
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 3, "restart-cpu", "zone-r");
        OperatorHarness.restrictedNamespace(c, NS);
        operator = OperatorHarness.start(c, List.of(NS));
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", NS);
        md.getSpec().replicas = GROUPS;
        client.resource(md).create();
    }

    @AfterAll
    static void stop() {
        if (operator != null) operator.close();
    }

    @Test
    void rolloutFinishesAcrossAnApiServerAndAnEtcdRestart() {
        String before = awaitConverged(null);
        int shards = deployment().getSpec().experts.parallelism();
        ConfigMap notes = client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata()
                .withName("tiny-notes").addToLabels(ShardLabels.DEPLOYMENT, "tiny").endMetadata()
                .addToData("owner", "a person").build()).create();

        try (var watch = new ModelDeploymentOperatorTest.RevisionWatch(client, NS, "tiny", shards)) {
            editSpec(m -> m.getSpec().resources.getRequests().put("cpu", new Quantity("330m")));
            // the first group has started to move: the rollout is under way
            await().atMost(TIMEOUT).until(() -> shardPods().stream()
                    .anyMatch(p -> !before.equals(p.getMetadata().getLabels().get(ShardLabels.REVISION))));
            plane.restart("kube-apiserver", 5);
            // and once more, further on: etcd under the API server
            await().atMost(TIMEOUT).ignoreExceptions().until(() -> shardPods().stream()
                    .filter(p -> !before.equals(p.getMetadata().getLabels().get(ShardLabels.REVISION))).count() > shards);
            plane.restart("etcd", 5);

            String after = awaitConverged(before);
            assertThat(after).isNotEqualTo(before);
            assertThat(watch.mixedGroups).as("groups seen serving two revisions at once").isEmpty();
            // nothing half-applied: exactly the wanted groups, each StatefulSet at the new revision with all its shards
            List<StatefulSet> groups = client.apps().statefulSets().inNamespace(NS).list().getItems();
            assertThat(groups).extracting(s -> s.getMetadata().getName()).containsExactlyInAnyOrder(
                    java.util.stream.IntStream.range(0, GROUPS).mapToObj(i -> ShardNames.group(deployment(), i)).toArray(String[]::new));
            assertThat(groups).allSatisfy(s -> {
                assertThat(s.getSpec().getTemplate().getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, after);
                assertThat(s.getSpec().getReplicas()).isEqualTo(shards);
            });
            assertThat(client.configMaps().inNamespace(NS).withName(ShardNames.placement(deployment())).get()).isNotNull();
        }
        assertThat(client.configMaps().inNamespace(NS).withName("tiny-notes").get().getMetadata().getUid())
                .isEqualTo(notes.getMetadata().getUid());
    }

    /** All groups ready at one revision other than {@code before}, and a status that says so; returns the revision. */
    static String awaitConverged(String before) {
        await().atMost(TIMEOUT).ignoreExceptions().untilAsserted(() -> {
            ModelDeployment md = deployment();
            assertThat(md.getStatus().observedGeneration).isEqualTo(md.getMetadata().getGeneration());
            assertThat(md.getStatus().updateRevision).isNotEqualTo(before);
            assertThat(md.getStatus().readyGroups).isEqualTo(GROUPS + "/" + GROUPS);
            assertThat(md.getStatus().conditions).anySatisfy(c -> assertThat(c.getType() + "=" + c.getReason())
                    .isEqualTo("Progressing=Complete"));
            int shards = md.getSpec().experts.parallelism();
            assertThat(shardPods()).hasSize(GROUPS * shards).allSatisfy(p -> {
                assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, md.getStatus().updateRevision);
                assertThat(ModelDeploymentOperatorTest.isReady(p)).as("%s ready", p.getMetadata().getName()).isTrue();
            });
        });
        return deployment().getStatus().updateRevision;
    }

    static ModelDeployment deployment() {
        return client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
    }

    static List<Pod> shardPods() {
        return client.pods().inNamespace(NS).withLabel(ShardLabels.DEPLOYMENT, "tiny").list().getItems();
    }

    /** As a user would: retried when the operator wrote status between the read and the write (409). */
    static void editSpec(java.util.function.Consumer<ModelDeployment> change) {
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> {
            client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").edit(m -> {
                change.accept(m);
                return m;
            });
            return true;
        });
    }
}
