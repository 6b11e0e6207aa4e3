package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Hands on the operator's objects (issue 18 item 4), against the real API server: a StatefulSet or the placement
 * ConfigMap deleted by hand comes back, and an object the operator does not own survives its reconciles. (A hand edit
 * of a managed field of a group's StatefulSet was not undone within 2 minutes: open, see docs/reliability.md.)
 */
@ExtendWith(KubernetesClusterExtension.class)
class ControlPlaneFaultTest {
    static final String NS = "cp-faults";
    static final Duration TIMEOUT = Duration.ofSeconds(120);
    static KubernetesClient client;
    static OperatorHarness operator;
    static ModelDeployment md;

    @BeforeAll
    static void start(TestCluster c) {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 2, "cp-cpu", "zone-c");
        OperatorHarness.restrictedNamespace(c, NS);
        operator = OperatorHarness.start(c, List.of(NS));
        md = client.resource(OperatorHarness.example("tiny-cpu.yaml", NS)).create();
        awaitServing();
    }

    @AfterAll
    static void stop() {
        if (operator != null) operator.close();
    }

    static void awaitServing() {
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ModelDeployment now = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
            assertThat(now.getStatus()).isNotNull();
            assertThat(now.getStatus().readyGroups).isEqualTo("1/1");
            assertThat(now.getStatus().conditions.stream().filter(c -> c.getType().equals("Ready")).findFirst()
                    .orElseThrow().getStatus()).isEqualTo("True");
        });
    }

    static StatefulSet group() {
        return client.apps().statefulSets().inNamespace(NS).withName(ShardNames.group(md, 0)).get();
    }

    /** As a user would: retried when the operator wrote status between the read and the write (409). */
    static void setReplicas(int replicas) {
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> {
            client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").edit(m -> {
                m.getSpec().replicas = replicas;
                return m;
            });
            return true;
        });
    }

    @Test
    void aStatefulSetDeletedByHandIsRecreated() {
        String uid = group().getMetadata().getUid();
        client.apps().statefulSets().inNamespace(NS).withName(ShardNames.group(md, 0)).delete();
        await().atMost(TIMEOUT).until(() -> group() != null && !group().getMetadata().getUid().equals(uid));
        awaitServing();
    }

    @Test
    void thePlacementConfigMapDeletedByHandIsRecreated() {
        String name = ShardNames.placement(md);
        ConfigMap before = client.configMaps().inNamespace(NS).withName(name).get();
        client.configMaps().inNamespace(NS).withName(name).delete();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ConfigMap now = client.configMaps().inNamespace(NS).withName(name).get();
            assertThat(now).isNotNull();
            assertThat(now.getMetadata().getUid()).isNotEqualTo(before.getMetadata().getUid());
            assertThat(now.getData()).isEqualTo(before.getData());
        });
    }

    @Test
    void anObjectItDoesNotOwnIsLeftAlone() {
        // labelled as if it were the deployment's, but without an owner reference: not the operator's to touch
        ConfigMap notes = client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata()
                .withName("tiny-notes").addToLabels(ShardLabels.DEPLOYMENT, "tiny").endMetadata()
                .addToData("owner", "a person").build()).create();
        // a spec change makes the operator reconcile (and roll) everything it owns
        setReplicas(2);
        await().atMost(TIMEOUT).until(() -> client.apps().statefulSets().inNamespace(NS)
                .withName(ShardNames.group(md, 1)).get() != null);
        assertThat(client.configMaps().inNamespace(NS).withName("tiny-notes").get().getMetadata().getUid())
                .isEqualTo(notes.getMetadata().getUid());
        setReplicas(1);
        await().atMost(TIMEOUT).until(() -> client.apps().statefulSets().inNamespace(NS)
                .withName(ShardNames.group(md, 1)).get() == null);
        assertThat(client.configMaps().inNamespace(NS).withName("tiny-notes").get()).isNotNull();
        awaitServing();
    }
}
