package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.OperatorConfig;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Two operator replicas: one holds the Lease and reconciles; when it stops, the other takes over. */
@ExtendWith(KubernetesClusterExtension.class)
class LeaderElectionTest {

    static final String NS = "op-lease";

    @Test
    void standbyTakesOverWhenTheLeaderStops(TestCluster cluster) throws Exception {
        Assumptions.assumeTrue(cluster.canSimulateNodes(), "needs KWOK nodes for shard pods");
        var client = cluster.client();
        cluster.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        cluster.addNodes("cpu", 2, "lease-cpu", "zone-a");
        OperatorHarness.restrictedNamespace(cluster, NS);

        OperatorHarness a = OperatorHarness.start(cluster, config("replica-a"));
        OperatorHarness b = OperatorHarness.start(cluster, config("replica-b"));
        try {
            String leader = await().atMost(Duration.ofSeconds(60)).until(() -> holder(cluster), h -> h != null);
            assertThat(leader).isIn("replica-a", "replica-b");

            client.resource(OperatorHarness.example("tiny-cpu.yaml", NS)).create();
            awaitReady(cluster, "tiny");
            // the standby waits: it has reconciled nothing (issue 18 item 4: a second operator does not fight)
            OperatorHarness waiting = leader.equals("replica-a") ? b : a;
            assertThat(ModelDeploymentOperatorTest.scrape((leader.equals("replica-a") ? a : b).httpPort()))
                    .contains("operator_sdk_reconciliations_started_total{");
            assertThat(ModelDeploymentOperatorTest.scrape(waiting.httpPort()))
                    .doesNotContain("operator_sdk_reconciliations_started_total{");

            OperatorHarness stopped = leader.equals("replica-a") ? a : b;
            String standby = leader.equals("replica-a") ? "replica-b" : "replica-a";
            stopped.close();
            await().atMost(Duration.ofSeconds(60)).until(() -> standby.equals(holder(cluster)));

            ModelDeployment second = OperatorHarness.example("tiny-cpu.yaml", NS);
            second.getMetadata().setName("after-failover");
            client.resource(second).create();
            awaitReady(cluster, "after-failover");
        } finally {
            a.close();
            b.close();
        }
    }

    static OperatorConfig config(String identity) {
        return new OperatorConfig(List.of(NS), "nuri-worker:test", "127.0.0.1", 0, Optional.of(NS), identity);
    }

    static void awaitReady(TestCluster cluster, String name) {
        await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> {
            ModelDeployment md = cluster.client().resources(ModelDeployment.class).inNamespace(NS).withName(name).get();
            assertThat(md.getStatus()).isNotNull();
            assertThat(md.getStatus().conditions).anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
        });
    }

    static String holder(TestCluster cluster) {
        Lease lease = cluster.client().leases().inNamespace(NS).withName("nuri-operator-lock").get();
        return lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
    }
}
