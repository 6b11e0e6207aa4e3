package dev.nuri.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** KWOK nodes advertise NPUs; the real scheduler places pods on them and respects the device count. */
@ExtendWith(KubernetesClusterExtension.class)
class FakeNpuNodesTest {

    @Test
    void statefulSetRequestingRebelDevicesIsScheduledWithinTheDeviceCount(TestCluster cluster) {
        Assumptions.assumeTrue(cluster.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        cluster.addNodes("rebellions-rebel", 2, "rebel-sched");
        var client = cluster.client();
        List<Node> nodes = client.nodes().withLabel("rebellions.ai/npu.family", "rebel").list().getItems().stream()
                .filter(n -> n.getMetadata().getName().startsWith("rebel-sched")).toList();
        assertThat(nodes).hasSize(2);
        assertThat(nodes.getFirst().getStatus().getAllocatable()).containsEntry("rebellions.ai/REBEL", new Quantity("8"));

        String ns = "npu-sched";
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).serverSideApply();
        // 5 pods x 4 devices on 2 nodes x 8 devices: exactly 4 fit, 2 per node.
        StatefulSet sts = new StatefulSetBuilder().withNewMetadata().withName("npu").withNamespace(ns).endMetadata()
                .withNewSpec().withReplicas(5).withPodManagementPolicy("Parallel").withServiceName("npu")
                .withNewSelector().addToMatchLabels("app", "npu").endSelector()
                .withNewTemplate().withNewMetadata().addToLabels("app", "npu").endMetadata()
                .withNewSpec()
                .addToNodeSelector("rebellions.ai/npu.family", "rebel")
                .withNewAffinity().withNewNodeAffinity().withNewRequiredDuringSchedulingIgnoredDuringExecution()
                    .addNewNodeSelectorTerm().addNewMatchExpression().withKey("kubernetes.io/hostname").withOperator("In")
                        .withValues(nodes.stream().map(n -> n.getMetadata().getName()).toList()).endMatchExpression()
                    .endNodeSelectorTerm()
                .endRequiredDuringSchedulingIgnoredDuringExecution().endNodeAffinity().endAffinity()
                .addNewToleration().withKey("rebellions.ai/REBEL").withOperator("Exists").withEffect("NoSchedule").endToleration()
                .addNewToleration().withKey("kwok.x-k8s.io/node").withOperator("Exists").withEffect("NoSchedule").endToleration()
                .addNewContainer().withName("worker").withImage("busybox")
                .withNewResources().addToRequests("rebellions.ai/REBEL", new Quantity("4"))
                .addToLimits("rebellions.ai/REBEL", new Quantity("4")).endResources()
                .endContainer()
                .endSpec().endTemplate().endSpec().build();
        client.resource(sts).serverSideApply();

        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            List<Pod> pods = client.pods().inNamespace(ns).withLabel("app", "npu").list().getItems();
            List<Pod> running = pods.stream().filter(p -> "Running".equals(p.getStatus().getPhase())).toList();
            assertThat(running).hasSize(4);
            Map<String, Long> perNode = running.stream()
                    .collect(Collectors.groupingBy(p -> p.getSpec().getNodeName(), Collectors.counting()));
            assertThat(perNode).hasSize(2).allSatisfy((node, count) -> assertThat(count).isEqualTo(2L));
            assertThat(pods).filteredOn(p -> "Pending".equals(p.getStatus().getPhase())).singleElement()
                    .satisfies(p -> assertThat(p.getStatus().getConditions()).anyMatch(c -> "PodScheduled".equals(c.getType())
                            && "Unschedulable".equals(c.getReason()) && c.getMessage().contains("rebellions.ai/REBEL")));
        });
        client.resource(sts).delete();
    }
}
