package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TcpProxy;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Hands on the operator's objects (issue 18 item 4), against the real API server: a StatefulSet or the placement
 * ConfigMap deleted by hand comes back, a managed field edited by hand is set back, an object the operator does not
 * own survives its reconciles, two operators without leader election do not fight, and the operator's connections
 * to the API server cut while the user changes the deployment (every watch dropped, the API server up) converge once
 * they are back.
 */
@ExtendWith(KubernetesClusterExtension.class)
class ControlPlaneFaultTest {
    static final String NS = "cp-faults";
    static final Duration TIMEOUT = Duration.ofSeconds(120);
    static TestCluster cluster;
    static KubernetesClient client;
    static OperatorHarness operator;
    static ModelDeployment md;
    static TcpProxy apiRelay;

    @BeforeAll
    static void start(TestCluster c) {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        cluster = c;
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 2, "cp-cpu", "zone-c");
        OperatorHarness.restrictedNamespace(c, NS);
        // the operator under test reaches the API server through a relay the test can cut (dropped watches); only on
        // 127.0.0.1 (the local plane), where the relay's address is one the API server's certificate names
        try {
            URI api = URI.create(io.fabric8.kubernetes.client.Config.fromKubeconfig(Files.readString(c.kubeconfig())).getMasterUrl());
            if (api.getHost().equals("127.0.0.1")) apiRelay = new TcpProxy(api.getHost(), api.getPort());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        operator = apiRelay == null ? OperatorHarness.start(c, List.of(NS))
                : OperatorHarness.startThrough(c, List.of(NS), "https://127.0.0.1:" + apiRelay.port());
        md = client.resource(OperatorHarness.example("tiny-cpu.yaml", NS)).create();
        awaitServing();
    }

    @AfterAll
    static void stop() {
        if (operator != null) operator.close();
        if (apiRelay != null) apiRelay.close();
    }

    /** The tests share one deployment: whatever a test changed, the next one starts from one serving group. */
    @AfterEach
    void oneGroupServing() {
        if (client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getSpec().replicas() != 1) {
            setReplicas(1);
        }
        awaitServing();
    }

    /**
     * For every condition type announced since {@code since}, the newest Event says what the status says: the Events
     * of the last status write are in.
     */
    static void awaitEventsAgreeWithStatus(String name, java.time.Instant since) {
        java.time.Instant from = since.truncatedTo(java.time.temporal.ChronoUnit.SECONDS); // Events keep whole seconds
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ModelDeployment now = client.resources(ModelDeployment.class).inNamespace(NS).withName(name).get();
            List<io.fabric8.kubernetes.api.model.Event> events = client.v1().events().inNamespace(NS).list().getItems().stream()
                    .filter(e -> name.equals(e.getInvolvedObject().getName()) && "nuri-operator".equals(e.getReportingComponent()))
                    .filter(e -> !java.time.Instant.parse(e.getMetadata().getCreationTimestamp()).isBefore(from))
                    .sorted(java.util.Comparator.comparingLong(e -> Long.parseLong(e.getMetadata().getResourceVersion())))
                    .toList();
            for (var c : now.getStatus().conditions) {
                events.stream().filter(e -> e.getMessage().startsWith(c.getType() + "=")).reduce((a, b) -> b).ifPresent(last ->
                        assertThat(last.getReason() + " " + last.getMessage()).as("the newest Event for " + c.getType())
                                .startsWith(c.getReason() + " " + c.getType() + "=" + c.getStatus()));
            }
        });
    }

    static void awaitServing() {
        awaitServing("tiny", 1);
    }

    static void awaitServing(String name, int groups) {
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ModelDeployment now = client.resources(ModelDeployment.class).inNamespace(NS).withName(name).get();
            assertThat(now.getStatus()).isNotNull();
            assertThat(now.getStatus().readyGroups).isEqualTo(groups + "/" + groups);
            assertThat(now.getStatus().conditions.stream().filter(c -> c.getType().equals("Ready")).findFirst()
                    .orElseThrow().getStatus()).isEqualTo("True");
        });
    }

    static StatefulSet group() {
        return client.apps().statefulSets().inNamespace(NS).withName(ShardNames.group(md, 0)).get();
    }

    /** As a user would: retried when the operator wrote status between the read and the write (409). */
    static void setReplicas(int replicas) {
        editSpec("tiny", m -> m.getSpec().replicas = replicas);
    }

    static void editSpec(String name, java.util.function.Consumer<ModelDeployment> change) {
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> {
            client.resources(ModelDeployment.class).inNamespace(NS).withName(name).edit(m -> {
                change.accept(m);
                return m;
            });
            return true;
        });
    }

    static List<io.fabric8.kubernetes.api.model.Pod> shardPods(String name) {
        return client.pods().inNamespace(NS).withLabel(ShardLabels.DEPLOYMENT, name).list().getItems();
    }

    /**
     * The mistake of two operators on the same namespace with leader election off (the chart turns it on; see
     * LeaderElectionTest for the standby that waits): both reconcile every change. They must still agree: a scale up
     * and a rollout converge, no group serves two revisions at once, and once converged neither writes anything for
     * 15 s (no fight over a field, the status or an owned object).
     */
    @Test
    void twoOperatorsWithoutLeaderElectionConvergeWithoutFighting() throws Exception {
        Path audit = cluster.auditLog().orElse(null);
        Assumptions.assumeTrue(audit != null, "needs the API server's audit log");
        int shards = md.getSpec().experts.parallelism();
        try (OperatorHarness second = OperatorHarness.startAs(cluster, List.of(NS), OperatorHarness.USER_AGENT + "-2")) {
            setReplicas(2);
            awaitServing("tiny", 2);
            String before = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getStatus().updateRevision;
            java.time.Instant editedAt = java.time.Instant.now();
            try (var watch = new ModelDeploymentOperatorTest.RevisionWatch(client, NS, "tiny", shards)) {
                editSpec("tiny", m -> m.getSpec().resources.getRequests().put("cpu", new Quantity("320m")));
                // converged: every shard ready at the new revision, and a status that says so for this generation
                await().atMost(TIMEOUT).untilAsserted(() -> {
                    ModelDeployment now = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
                    assertThat(now.getStatus().observedGeneration).isEqualTo(now.getMetadata().getGeneration());
                    assertThat(now.getStatus().updateRevision).isNotEqualTo(before);
                    assertThat(now.getStatus().readyGroups).isEqualTo("2/2");
                    assertThat(now.getStatus().conditions).anySatisfy(c -> {
                        assertThat(c.getType()).isEqualTo("Progressing");
                        assertThat(c.getReason()).isEqualTo("Complete");
                    });
                    assertThat(shardPods("tiny")).hasSize(2 * shards).allSatisfy(p -> {
                        assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, now.getStatus().updateRevision);
                        assertThat(p.getStatus().getConditions()).anySatisfy(c -> assertThat(c.getType() + "=" + c.getStatus())
                                .isEqualTo("Ready=True"));
                    });
                });
                assertThat(watch.mixedGroups).as("groups seen serving two revisions at once").isEmpty();
            }
            // the status write that converged is followed by the Events announcing its transitions; they belong to the
            // convergence, so the quiet period starts once they are in (else a 1-in-3 race counted one as a fight)
            awaitEventsAgreeWithStatus("tiny", editedAt);
            long mark = Files.readAllLines(audit).size();
            await().during(Duration.ofSeconds(15)).atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(writesToTiny(audit, mark)).as("writes by either operator once converged").isEmpty());
            setReplicas(1);
            awaitServing("tiny", 1);
        }
    }

    /**
     * Every connection of the operator to the API server cut (its watches dropped, its requests refused) while the user
     * changes the deployment, then restored, the API server up throughout (ControlPlaneRestartTest restarts it): the
     * informers resume or re-list, the change is rolled out, no group serves two revisions at once, the group's
     * StatefulSet is updated in place and nothing the operator does not own is deleted.
     */
    @Test
    void droppedWatchesAloneConvergeOnceTheConnectionsAreBack() {
        Assumptions.assumeTrue(apiRelay != null, "needs the API server on 127.0.0.1 (the local plane) for the relay");
        int shards = md.getSpec().experts.parallelism();
        ConfigMap notes = client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata()
                .withName("tiny-dropped-watch-notes").addToLabels(ShardLabels.DEPLOYMENT, "tiny").endMetadata()
                .addToData("owner", "a person").build()).create();
        String groupUid = group().getMetadata().getUid();
        String before = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getStatus().updateRevision;
        try (var watch = new ModelDeploymentOperatorTest.RevisionWatch(client, NS, "tiny", shards)) {
            long cut = System.nanoTime();
            apiRelay.sever();
            try {
                editSpec("tiny", m -> m.getSpec().resources.getRequests().put("cpu", new Quantity("330m")));
                // the operator knows its watches are gone (its /readyz turns 503) and keeps trying to get them back
                await().atMost(TIMEOUT).until(() -> operatorReadyz() != 200 && apiRelay.refused() >= 3);
                assertThat(group().getSpec().getTemplate().getMetadata().getLabels())
                        .as("the group while the operator cannot see the change").containsEntry(ShardLabels.REVISION, before);
            } finally {
                apiRelay.restore();
            }
            long restored = System.nanoTime();
            System.out.printf("dropped watches: cut for %d ms (%d connection attempts refused)%n", (restored - cut) / 1_000_000,
                    apiRelay.refused());
            await().atMost(TIMEOUT).until(() -> operatorReadyz() == 200); // every watch back
            System.out.printf("dropped watches: every watch back %d ms after the connections%n", (System.nanoTime() - restored) / 1_000_000);
            await().atMost(TIMEOUT).untilAsserted(() -> {
                ModelDeployment now = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
                assertThat(now.getStatus().observedGeneration).isEqualTo(now.getMetadata().getGeneration());
                assertThat(now.getStatus().updateRevision).isNotEqualTo(before);
                assertThat(now.getStatus().readyGroups).isEqualTo("1/1");
                assertThat(shardPods("tiny")).hasSize(shards).allSatisfy(p -> {
                    assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, now.getStatus().updateRevision);
                    assertThat(p.getStatus().getConditions()).anySatisfy(c -> assertThat(c.getType() + "=" + c.getStatus())
                            .isEqualTo("Ready=True"));
                });
            });
            System.out.printf("dropped watches: converged %d ms after the connections were back%n",
                    (System.nanoTime() - restored) / 1_000_000);
            assertThat(watch.mixedGroups).as("groups seen serving two revisions at once").isEmpty();
        }
        assertThat(group().getMetadata().getUid()).as("the group's StatefulSet, updated in place").isEqualTo(groupUid);
        assertThat(client.configMaps().inNamespace(NS).withName("tiny-dropped-watch-notes").get().getMetadata().getUid())
                .isEqualTo(notes.getMetadata().getUid());
        client.configMaps().inNamespace(NS).withName("tiny-dropped-watch-notes").delete();
        awaitServing();
    }

    /** The status of the operator under test's /readyz: 200 while every informer is synced and watching. */
    static int operatorReadyz() throws Exception {
        try (var http = java.net.http.HttpClient.newHttpClient()) {
            return http.send(java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operator.httpPort() + "/readyz"))
                    .timeout(Duration.ofSeconds(10)).build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    /**
     * Audit lines of writes by the operators under test to the "tiny" deployment's objects (and events) since a line.
     * A write the API server refused (a status computed from a stale view, 409) changed nothing and is not counted.
     */
    static List<String> writesToTiny(Path audit, long fromLine) throws java.io.IOException {
        return Files.readAllLines(audit).stream().skip(fromLine)
                .filter(l -> l.contains("\"userAgent\":\"" + OperatorHarness.USER_AGENT))
                .filter(l -> l.contains("\"name\":\"tiny"))
                .filter(l -> responseCode(l) < 300)
                .toList();
    }

    static int responseCode(String auditLine) {
        try {
            return AUDIT.readTree(auditLine).path("responseStatus").path("code").asInt();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static final com.fasterxml.jackson.databind.ObjectMapper AUDIT = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * Two writers of one status (two operators by mistake): a status computed from a view the other writer has since
     * changed is refused, and the newer status stays. Written unconditionally, the stale status overwrote the newer one
     * and the other writer wrote its own back (the fight the two-operator test saw).
     */
    @Test
    void aStatusComputedFromAStaleViewIsNotWritten() {
        String ns = "cp-stale"; // not watched by the operator: the test is the only writer
        client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns)
                .endMetadata().build()).serverSideApply();
        ModelDeployment seen = client.resource(OperatorHarness.example("tiny-cpu.yaml", ns)).create();
        var newer = new dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus();
        newer.readyGroups = "1/1";
        assertThat(dev.nuri.operator.status.StatusPatch.apply(client, "modeldeployment", seen, newer)).isPresent();
        var stale = new dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus();
        stale.readyGroups = "0/1";
        assertThat(dev.nuri.operator.status.StatusPatch.apply(client, "modeldeployment", seen, stale).map(m -> m.getStatus().readyGroups))
                .as("readyGroups written over a newer status than the one it was computed from").isEmpty();
        assertThat(client.resources(ModelDeployment.class).inNamespace(ns).withName("tiny").get().getStatus().readyGroups)
                .isEqualTo("1/1");
        client.resources(ModelDeployment.class).inNamespace(ns).withName("tiny").delete();
    }

    @Test
    void aStatefulSetDeletedByHandIsRecreated() {
        String uid = group().getMetadata().getUid();
        client.apps().statefulSets().inNamespace(NS).withName(ShardNames.group(md, 0)).delete();
        await().atMost(TIMEOUT).until(() -> group() != null && !group().getMetadata().getUid().equals(uid));
        // serving again from the new StatefulSet's pods (the status alone may still be the one from before the delete)
        String recreated = group().getMetadata().getUid();
        int shards = md.getSpec().experts.parallelism();
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(shardPods("tiny")).hasSize(shards).allSatisfy(p -> {
            assertThat(p.getMetadata().getOwnerReferences()).anySatisfy(o -> assertThat(o.getUid()).isEqualTo(recreated));
            assertThat(p.getStatus().getConditions()).anySatisfy(c -> assertThat(c.getType() + "=" + c.getStatus()).isEqualTo("Ready=True"));
        }));
        awaitServing();
    }

    @Test
    void thePlacementConfigMapDeletedByHandIsRecreated() {
        String name = ShardNames.placement(md);
        // steady state first: only the update revision's layout (an older revision's stays while a group runs it)
        String revision = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getStatus().updateRevision;
        await().atMost(TIMEOUT).until(() -> client.configMaps().inNamespace(NS).withName(name).get().getData().keySet()
                .equals(java.util.Set.of(ShardNames.placementFile(revision))));
        ConfigMap before = client.configMaps().inNamespace(NS).withName(name).get();
        client.configMaps().inNamespace(NS).withName(name).delete();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ConfigMap now = client.configMaps().inNamespace(NS).withName(name).get();
            assertThat(now).isNotNull();
            assertThat(now.getMetadata().getUid()).isNotEqualTo(before.getMetadata().getUid());
            assertThat(now.getData()).isEqualTo(before.getData());
        });
        awaitServing();
    }

    /** As kubectl edit does: an update by another field manager, which keeps the hash annotation of what was applied. */
    @Test
    void aManagedFieldEditedByHandIsSetBack() {
        String image = group().getSpec().getTemplate().getSpec().getContainers().getFirst().getImage();
        String uid = group().getMetadata().getUid();
        await().atMost(TIMEOUT).ignoreExceptions().until(() -> {
            client.apps().statefulSets().inNamespace(NS).withName(ShardNames.group(md, 0)).edit(sts -> {
                sts.getSpec().getTemplate().getSpec().getContainers().getFirst().setImage("example.invalid/hand-edited:1");
                return sts;
            });
            return true;
        });
        await().atMost(TIMEOUT).untilAsserted(() -> {
            StatefulSet now = group();
            assertThat(now.getMetadata().getUid()).as("set back in place, not recreated").isEqualTo(uid);
            assertThat(now.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage()).isEqualTo(image);
        });
        awaitServing();
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
