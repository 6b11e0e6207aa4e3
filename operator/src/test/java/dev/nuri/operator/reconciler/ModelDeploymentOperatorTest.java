package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nuri.contract.ShardSetting;
import dev.nuri.operator.api.v1alpha1.AcceleratorProfile;
import dev.nuri.operator.api.v1alpha1.AcceleratorSpec;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ServingSpec;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The operator against a real control plane with KWOK NPU nodes: every owned object, readiness,
 * scaling, group-by-group rollouts, degraded reporting, deletion, restarts and quiet resyncs.
 */
@ExtendWith(KubernetesClusterExtension.class)
class ModelDeploymentOperatorTest {

    static final String TINY = "op-tiny", AXK1 = "op-axk1", ROLL = "op-roll", SCARCE = "op-scarce", DELETE = "op-delete",
            RESTART = "op-restart", HPA = "op-hpa", CAPACITY = "op-capacity", NO_PVC = "op-no-pvc", STALLED = "op-stalled";
    static final List<String> NAMESPACES = List.of(TINY, AXK1, ROLL, SCARCE, DELETE, RESTART, HPA, CAPACITY, NO_PVC, STALLED);
    static final Duration TIMEOUT = Duration.ofSeconds(120);

    static TestCluster cluster;
    static KubernetesClient client;
    static OperatorHarness operator;

    @BeforeAll
    static void start(TestCluster c) {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        cluster = c;
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 6, "op-cpu", "zone-a");
        c.addNodes("rebellions-rebel", 4, "op-rebel", "zone-b");
        NAMESPACES.forEach(ns -> OperatorHarness.restrictedNamespace(c, ns));
        operator = OperatorHarness.start(c, NAMESPACES);
    }

    @AfterAll
    static void stop() {
        if (operator != null) operator.close();
    }

    @Test
    void tinyExampleBecomesReadyWithEveryOwnedObject() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", TINY);
        client.resource(md).create();

        awaitReady(TINY, "tiny", 1);
        assertThat(client.configMaps().inNamespace(TINY).withName("tiny-placement").get().getData())
                .hasSize(1).allSatisfy((key, json) -> {
                    assertThat(key).startsWith("placement-").endsWith(".json");
                    JsonNode placement = readJson(json);
                    assertThat(placement.get("numExperts").asInt()).isEqualTo(16);
                    assertThat(placement.at("/default/shards")).hasSize(4);
                });
        var shards = client.services().inNamespace(TINY).withName("tiny-shards").get();
        assertThat(shards.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(shards.getSpec().getPublishNotReadyAddresses()).isTrue();
        assertThat(client.services().inNamespace(TINY).withName("tiny").get().getSpec().getPorts().getFirst().getPort())
                .isEqualTo(8000);
        assertThat(client.policy().v1().podDisruptionBudget().inNamespace(TINY).withName("tiny").get()
                .getSpec().getMaxUnavailable().getIntVal()).isEqualTo(4);
        assertThat(client.network().v1().networkPolicies().inNamespace(TINY).withName("tiny-peers").get()).isNotNull();
        StatefulSet group = client.apps().statefulSets().inNamespace(TINY).withName("tiny-g0").get();
        assertThat(group.getSpec().getReplicas()).isEqualTo(4);
        assertThat(group.getSpec().getPodManagementPolicy()).isEqualTo("Parallel");
        assertThat(group.getMetadata().getOwnerReferences()).singleElement()
                .satisfies(o -> assertThat(o.getKind()).isEqualTo("ModelDeployment"));

        // Pods were admitted under Pod Security "restricted" (the namespace enforces it) and run.
        List<Pod> pods = shardPods(TINY, "tiny");
        assertThat(pods).hasSize(4).allSatisfy(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Running"));
        assertThat(pods).extracting(p -> env(p, ShardSetting.PEERS.env()))
                .allSatisfy(peers -> assertThat(peers).contains("tiny-g0-3.tiny-shards.op-tiny.svc:9000"));

        ModelDeployment ready = get(TINY, "tiny");
        assertThat(ready.getStatus().observedGeneration).isEqualTo(ready.getMetadata().getGeneration());
        assertThat(ready.getStatus().endpoint).isEqualTo("http://tiny.op-tiny.svc:8000/v1");
        assertThat(ready.getStatus().selector).isEqualTo("serving.nuri.dev/deployment=tiny");
        assertThat(cluster.kubectl("get", "md", "-n", TINY).assertSuccess().stdout()).contains("1/1").contains("True");
    }

    @Test
    void peerKeySecretIsCreatedOnceOwnedMountedAndNeverChanged() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", TINY);
        md.getMetadata().setName("keyed");
        client.resource(md).create();
        awaitReady(TINY, "keyed", 1);

        Secret key = client.secrets().inNamespace(TINY).withName("keyed-peer-key").get();
        assertThat(key).as("the peer key Secret").isNotNull();
        assertThat(key.getImmutable()).isTrue();
        assertThat(key.getMetadata().getOwnerReferences()).singleElement().satisfies(o -> {
            assertThat(o.getKind()).isEqualTo("ModelDeployment");
            assertThat(o.getUid()).isEqualTo(get(TINY, "keyed").getMetadata().getUid());
            assertThat(o.getController()).isTrue();
        });
        String hex = new String(Base64.getDecoder().decode(key.getData().get("peer-key")), StandardCharsets.US_ASCII);
        assertThat(hex).matches("[0-9a-f]{64}");
        assertThat(shardPods(TINY, "keyed")).hasSize(4).allSatisfy(p -> {
            var ref = p.getSpec().getContainers().getFirst().getEnv().stream()
                    .filter(e -> ShardSetting.PEER_KEY.env().equals(e.getName())).findFirst().orElseThrow()
                    .getValueFrom().getSecretKeyRef();
            assertThat(ref.getName()).isEqualTo("keyed-peer-key");
            assertThat(ref.getKey()).isEqualTo("peer-key");
        });

        // later reconciles: a new group, then a template change that rolls every group
        cluster.kubectl("scale", "md/keyed", "-n", TINY, "--replicas=2").assertSuccess();
        awaitReady(TINY, "keyed", 2);
        TestCluster.editAsAUser(client.resources(ModelDeployment.class).inNamespace(TINY).withName("keyed"), m -> {
            if (m.getSpec().serving == null) m.getSpec().serving = new ServingSpec();
            m.getSpec().serving.maxSequences = 32;
        });
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(shardPods(TINY, "keyed")).hasSize(8)
                .allSatisfy(p -> assertThat(p.getSpec().getContainers().getFirst().getEnv())
                        .anyMatch(e -> ShardSetting.MAX_BATCH.env().equals(e.getName()) && "32".equals(e.getValue()))));
        awaitReady(TINY, "keyed", 2);
        Secret after = client.secrets().inNamespace(TINY).withName("keyed-peer-key").get();
        assertThat(after.getMetadata().getUid()).isEqualTo(key.getMetadata().getUid());
        assertThat(after.getMetadata().getResourceVersion()).isEqualTo(key.getMetadata().getResourceVersion());
        assertThat(after.getData()).isEqualTo(key.getData());
    }

    @Test
    void kubectlScaleAddsAndRemovesWholeGroups() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", TINY);
        md.getMetadata().setName("scaled");
        client.resource(md).create();
        awaitReady(TINY, "scaled", 1);

        cluster.kubectl("scale", "md/scaled", "-n", TINY, "--replicas=3").assertSuccess();
        awaitReady(TINY, "scaled", 3);
        assertThat(shardPods(TINY, "scaled")).hasSize(12);

        cluster.kubectl("scale", "md/scaled", "-n", TINY, "--replicas=1").assertSuccess();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            assertThat(groupNames(TINY, "scaled")).containsExactly("scaled-g0");
            assertThat(shardPods(TINY, "scaled")).hasSize(4);
        });
        awaitReady(TINY, "scaled", 1);
    }

    @Test
    void axk1ExampleRunsSixteenShardsPerGroupOnRebelNodes() {
        client.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName("axk1-fp8-weights")
                .endMetadata().withNewSpec().withStorageClassName("manual").addToCapacity("storage", new Quantity("600Gi"))
                .withAccessModes("ReadOnlyMany").withNewHostPath().withPath("/data/axk1-fp8").endHostPath().endSpec()
                .build()).serverSideApply();
        client.persistentVolumeClaims().inNamespace(AXK1).resource(new PersistentVolumeClaimBuilder().withNewMetadata()
                .withName("axk1-fp8").endMetadata().withNewSpec().withStorageClassName("manual").withVolumeName("axk1-fp8-weights")
                .withAccessModes("ReadOnlyMany").withNewResources().addToRequests("storage", new Quantity("520Gi"))
                .endResources().endSpec().build()).serverSideApply();
        client.resource(OperatorHarness.example("axk1-rebellions-rebel.yaml", AXK1)).create();

        awaitReady(AXK1, "axk1", 2);
        List<Pod> pods = shardPods(AXK1, "axk1");
        assertThat(pods).hasSize(32).allSatisfy(p -> {
            assertThat(p.getSpec().getContainers().getFirst().getResources().getLimits())
                    .containsEntry("rebellions.ai/REBEL", new Quantity("1"));
            assertThat(p.getSpec().getNodeName()).startsWith("op-rebel-");
        });
        ModelDeployment md = get(AXK1, "axk1");
        assertThat(md.getStatus().placement.slotsPerShard).isEqualTo(12);
        assertThat(md.getStatus().capacity.fits).isTrue();
    }

    @Test
    void templateChangeRollsGroupByGroupWithoutMixingRevisions() {
        String before = threeReadyGroups(ROLL);

        try (RevisionWatch watch = new RevisionWatch(client, ROLL, "tiny", 4)) {
            editSpec(ROLL, "tiny", spec -> spec.resources.getRequests().put("cpu", new Quantity("300m")));
            String after = awaitRevisionChange(ROLL, "tiny", before);
            awaitReady(ROLL, "tiny", 3);
            assertThat(shardPods(ROLL, "tiny")).allSatisfy(p ->
                    assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, after));
            assertThat(watch.mixedGroups).as("groups seen serving two revisions at once").isEmpty();
            assertThat(watch.maxGroupsDown).as("groups out of service at once (maxUnavailableGroups=1)").isEqualTo(1);
        }
        // One writer per object: the groups' StatefulSets are written only by applying their desired
        // state, draining included; no scale call beside it.
        List<String> groupWrites = operatorWrites(ROLL, "statefulsets");
        assertThat(groupWrites).as("the operator's writes to group StatefulSets").isNotEmpty()
                .allSatisfy(w -> assertThat(w).contains("\"verb\":\"patch\"").doesNotContain("\"subresource\""));
    }

    /** Audit lines of the operator's writes to {@code resource} in {@code namespace}. */
    static List<String> operatorWrites(String namespace, String resource) {
        Path audit = cluster.auditLog().orElseThrow(() -> new AssertionError("needs the API server's audit log"));
        try {
            return Files.readAllLines(audit).stream()
                    .filter(l -> l.contains("\"userAgent\":\"" + OperatorHarness.USER_AGENT + "\""))
                    .filter(l -> l.contains("\"resource\":\"" + resource + "\"") && l.contains("\"namespace\":\"" + namespace + "\""))
                    .toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void tooFewNpusIsDegradedWithTheSchedulersReasonAndRecoversWhenNodesArrive() {
        cluster.addNodes("rebellions-atom", 1, "op-atom-a", "zone-a");
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", SCARCE);
        md.getSpec().accelerator = new AcceleratorSpec();
        md.getSpec().accelerator.profile = AcceleratorProfile.REBELLIONS_ATOM;
        md.getSpec().accelerator.perShard = 4; // 4 shards x 4 devices: one 8-device node holds half a group
        md.getSpec().scheduling.groupTopologyKey = "";
        client.resource(md).create();

        await().atMost(TIMEOUT).untilAsserted(() -> {
            Condition degraded = condition(get(SCARCE, "tiny"), "Degraded");
            assertThat(degraded.getStatus()).isEqualTo("True");
            assertThat(degraded.getReason()).isEqualTo("Unschedulable");
            assertThat(degraded.getMessage()).contains("Insufficient rebellions.ai/ATOM");
            assertThat(condition(get(SCARCE, "tiny"), "Ready").getStatus()).isEqualTo("False");
        });
        // the Event announces the status write once it is accepted: it follows the status, by a moment
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(client.v1().events().inNamespace(SCARCE).list().getItems())
                .anyMatch(e -> "Unschedulable".equals(e.getReason()) && "Warning".equals(e.getType())));

        cluster.addNodes("rebellions-atom", 1, "op-atom-b", "zone-a");
        awaitReady(SCARCE, "tiny", 1);
        assertThat(condition(get(SCARCE, "tiny"), "Degraded").getStatus()).isEqualTo("False");
    }

    @Test
    void deletingTheModelDeploymentRemovesEverything() {
        client.resource(OperatorHarness.example("tiny-cpu.yaml", DELETE)).create();
        awaitReady(DELETE, "tiny", 1);
        client.resources(ModelDeployment.class).inNamespace(DELETE).withName("tiny").delete();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            assertThat(client.apps().statefulSets().inNamespace(DELETE).list().getItems()).isEmpty();
            assertThat(client.services().inNamespace(DELETE).list().getItems()).isEmpty();
            assertThat(client.configMaps().inNamespace(DELETE).withLabel(ShardLabels.DEPLOYMENT).list().getItems()).isEmpty();
            assertThat(client.policy().v1().podDisruptionBudget().inNamespace(DELETE).list().getItems()).isEmpty();
            assertThat(client.network().v1().networkPolicies().inNamespace(DELETE).list().getItems()).isEmpty();
            assertThat(client.pods().inNamespace(DELETE).list().getItems()).isEmpty();
        });
    }

    /**
     * A rollout stalled half way (the new revision's pods cannot be scheduled) has two revisions in use; the
     * placement ConfigMap deleted then comes back with both files, the old one from the StatefulSet of the group
     * still running it, so that group's pods find their layout when they restart.
     */
    @Test
    void placementConfigMapDeletedMidRolloutKeepsTheOldRevisionsLayout() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", STALLED);
        md.getSpec().replicas = 2;
        client.resource(md).create();
        awaitReady(STALLED, "tiny", 2);
        String before = get(STALLED, "tiny").getStatus().updateRevision;

        editSpec(STALLED, "tiny", spec -> spec.resources.getRequests().put("cpu", new Quantity("1000"))); // fits no node
        String after = awaitRevisionChange(STALLED, "tiny", before);
        var configMaps = client.configMaps().inNamespace(STALLED).withName("tiny-placement");
        await().atMost(TIMEOUT).until(() -> configMaps.get().getData().keySet()
                .equals(Set.of(ShardNames.placementFile(before), ShardNames.placementFile(after))));
        var stalled = configMaps.get();

        configMaps.delete();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            var now = configMaps.get();
            assertThat(now).isNotNull();
            assertThat(now.getMetadata().getUid()).isNotEqualTo(stalled.getMetadata().getUid());
            assertThat(now.getData()).as("placement files after the ConfigMap was recreated mid-rollout").isEqualTo(stalled.getData());
        });
        // still stalled: one group on each revision, so both files were needed
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(shardPods(STALLED, "tiny"))
                .extracting(p -> p.getMetadata().getLabels().get(ShardLabels.REVISION)).contains(before, after));
    }

    /** Killed mid-rollout, a new operator finishes the rollout from what it finds, still group by group. */
    @Test
    void operatorRestartedMidRolloutConverges() {
        String before = threeReadyGroups(RESTART);

        try (RevisionWatch watch = new RevisionWatch(client, RESTART, "tiny", 4)) {
            editSpec(RESTART, "tiny", spec -> spec.resources.getRequests().put("cpu", new Quantity("310m")));
            // stop the operator as soon as the first group has moved
            await().atMost(TIMEOUT).until(() -> shardPods(RESTART, "tiny").stream()
                    .anyMatch(p -> !before.equals(p.getMetadata().getLabels().get(ShardLabels.REVISION))));
            operator.close();
            operator = OperatorHarness.start(cluster, NAMESPACES);

            String after = awaitRevisionChange(RESTART, "tiny", before);
            awaitReady(RESTART, "tiny", 3);
            assertThat(shardPods(RESTART, "tiny")).allSatisfy(p ->
                    assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, after));
            assertThat(watch.mixedGroups).isEmpty();
        }
    }

    /** A restarted operator reconciles every ModelDeployment again; with nothing changed it must write nothing. */
    @Test
    void steadyStateResyncWritesNothing() throws Exception {
        Path audit = cluster.auditLog().orElse(null);
        Assumptions.assumeTrue(audit != null, "needs the API server's audit log");
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", TINY);
        md.getMetadata().setName("quiet");
        client.resource(md).create();
        awaitReady(TINY, "quiet", 1);
        await().atMost(TIMEOUT).until(() -> get(TINY, "quiet").getStatus().conditions.stream()
                .allMatch(c -> !"Progressing".equals(c.getType()) || "False".equals(c.getStatus())));

        operator.close();
        long linesBefore = Files.readAllLines(audit).size();
        operator = OperatorHarness.start(cluster, NAMESPACES);
        // every deployment of the watched namespaces reconciled once by the new operator
        List<ModelDeployment> all = NAMESPACES.stream()
                .flatMap(ns -> client.resources(ModelDeployment.class).inNamespace(ns).list().getItems().stream()).toList();
        await().atMost(TIMEOUT).untilAsserted(() -> {
            String metrics = scrape(operator.httpPort());
            for (ModelDeployment m : all) {
                assertThat(metrics).containsPattern("operator_sdk_reconciliations_success_total\\{[^}]*name=\""
                        + m.getMetadata().getName() + "\",namespace=\"" + m.getMetadata().getNamespace() + "\"");
            }
        });
        List<String> writes = Files.readAllLines(audit).stream().skip(linesBefore)
                .filter(l -> l.contains("\"userAgent\":\"" + OperatorHarness.USER_AGENT + "\""))
                .filter(l -> !l.contains("\"resource\":\"leases\""))
                .toList();
        assertThat(writes).as("API writes by the restarted operator in steady state").isEmpty();
    }

    /**
     * The HPA controller reads and writes groups through the scale subresource. Without a metrics
     * server it still enforces minReplicas, which is enough to see it drive whole groups.
     */
    @Test
    void horizontalPodAutoscalerScalesGroupsThroughTheScaleSubresource() {
        client.resource(OperatorHarness.example("tiny-cpu.yaml", HPA)).create();
        awaitReady(HPA, "tiny", 1);
        client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(HPA).resource(
                new io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder()
                        .withNewMetadata().withName("tiny").endMetadata()
                        .withNewSpec()
                        .withNewScaleTargetRef().withApiVersion("serving.nuri.dev/v1alpha1").withKind("ModelDeployment")
                            .withName("tiny").endScaleTargetRef()
                        .withMinReplicas(2).withMaxReplicas(3)
                        .addNewMetric().withType("Resource").withNewResource().withName("cpu").withNewTarget()
                            .withType("Utilization").withAverageUtilization(80).endTarget().endResource().endMetric()
                        .endSpec().build()).create();
        await().atMost(TIMEOUT).until(() -> get(HPA, "tiny").getSpec().replicas == 2);
        awaitReady(HPA, "tiny", 2);
        // the HPA reads the current group count back from status.replicas
        await().atMost(TIMEOUT).until(() -> client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(HPA)
                .withName("tiny").get().getStatus().getCurrentReplicas() == 2);
    }

    /** A model that cannot fit its shards' devices is reported before any pod is created. */
    @Test
    void modelTooLargeForTheDevicesIsDegradedBeforeAnyPodExists() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", CAPACITY);
        md.getSpec().model.source.builtin = null;
        md.getSpec().model.source.hostPath = new dev.nuri.operator.api.v1alpha1.ModelSource.HostPathSource();
        md.getSpec().model.source.hostPath.path = "/models/axk1";
        md.getSpec().model.weightsSize = new Quantity("1040Gi"); // A.X K1 in BF16
        md.getSpec().experts.total = 192;
        md.getSpec().experts.parallelism = 16;
        md.getSpec().accelerator = new AcceleratorSpec();
        md.getSpec().accelerator.profile = AcceleratorProfile.REBELLIONS_ATOM; // 16 GiB per device
        client.resource(md).create();

        await().atMost(TIMEOUT).untilAsserted(() -> {
            Condition degraded = condition(get(CAPACITY, "tiny"), "Degraded");
            assertThat(degraded.getReason()).isEqualTo("InsufficientDeviceMemory");
            assertThat(degraded.getMessage()).contains("of device memory").contains("experts.parallelism");
            assertThat(get(CAPACITY, "tiny").getStatus().capacity.fits).isFalse();
        });
        assertThat(client.apps().statefulSets().inNamespace(CAPACITY).list().getItems()).isEmpty();
        assertThat(client.pods().inNamespace(CAPACITY).list().getItems()).isEmpty();
    }

    /** A PVC source naming a claim that does not exist is reported as such, and recovers once it does. */
    @Test
    void missingModelClaimIsDegradedUntilTheClaimExists() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", NO_PVC);
        md.getSpec().model.source.builtin = null;
        md.getSpec().model.source.pvc = new dev.nuri.operator.api.v1alpha1.ModelSource.PvcSource();
        md.getSpec().model.source.pvc.claimName = "tiny-weights";
        client.resource(md).create();

        await().atMost(TIMEOUT).untilAsserted(() -> {
            Condition degraded = condition(get(NO_PVC, "tiny"), "Degraded");
            assertThat(degraded.getStatus()).isEqualTo("True");
            assertThat(degraded.getReason()).isEqualTo("ModelSourceMissing");
            assertThat(degraded.getMessage()).isEqualTo("PersistentVolumeClaim tiny-weights named in "
                    + "spec.model.source.pvc does not exist in namespace " + NO_PVC);
        });
        // the Event announces the status write once it is accepted: it follows the status, by a moment
        await().atMost(TIMEOUT).untilAsserted(() -> assertThat(client.v1().events().inNamespace(NO_PVC).list().getItems())
                .anyMatch(e -> "ModelSourceMissing".equals(e.getReason()) && "Warning".equals(e.getType())));

        client.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName("tiny-weights-pv")
                .endMetadata().withNewSpec().withStorageClassName("manual").addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadOnlyMany").withNewHostPath().withPath("/data/tiny").endHostPath().endSpec()
                .build()).serverSideApply();
        client.persistentVolumeClaims().inNamespace(NO_PVC).resource(new PersistentVolumeClaimBuilder().withNewMetadata()
                .withName("tiny-weights").endMetadata().withNewSpec().withStorageClassName("manual")
                .withVolumeName("tiny-weights-pv").withAccessModes("ReadOnlyMany").withNewResources()
                .addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).serverSideApply();
        awaitReady(NO_PVC, "tiny", 1);
        assertThat(condition(get(NO_PVC, "tiny"), "Degraded").getStatus()).isEqualTo("False");
    }

    /**
     * spec.batch.storage: every shard pod mounts its own folder of the volume (subPathExpr, the pod's name) at
     * NURI_BATCH_DIR, admitted under Pod Security "restricted"; a claim that does not exist is reported by name.
     */
    @Test
    void batchStorageIsMountedPerPodAtTheBatchDir() {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", TINY);
        md.getMetadata().setName("batchy");
        md.getSpec().batch = new dev.nuri.operator.api.v1alpha1.BatchSpec();
        md.getSpec().batch.storage = new dev.nuri.operator.api.v1alpha1.BatchSpec.Storage();
        md.getSpec().batch.storage.emptyDir = new dev.nuri.operator.api.v1alpha1.BatchSpec.EmptyDir();
        md.getSpec().batch.storage.emptyDir.sizeLimit = "1Gi";
        client.resource(md).create();
        awaitReady(TINY, "batchy", 1);
        assertThat(shardPods(TINY, "batchy")).hasSize(4).allSatisfy(p -> {
            var worker = p.getSpec().getContainers().getFirst();
            assertThat(env(p, ShardSetting.BATCH_DIR.env())).isEqualTo("/var/lib/nuri/batch");
            assertThat(worker.getEnv()).filteredOn(e -> "POD_NAME".equals(e.getName())).singleElement()
                    .satisfies(e -> assertThat(e.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.name"));
            assertThat(worker.getVolumeMounts()).filteredOn(m -> "/var/lib/nuri/batch".equals(m.getMountPath())).singleElement()
                    .satisfies(m -> {
                        assertThat(m.getName()).isEqualTo("batch");
                        assertThat(m.getSubPathExpr()).isEqualTo("$(POD_NAME)");
                        assertThat(m.getReadOnly()).isNotEqualTo(Boolean.TRUE);
                    });
            assertThat(p.getSpec().getVolumes()).filteredOn(v -> "batch".equals(v.getName())).singleElement()
                    .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("1Gi")));
        });

        TestCluster.editAsAUser(client.resources(ModelDeployment.class).inNamespace(TINY).withName("batchy"), m -> {
            m.getSpec().batch.storage.emptyDir = null;
            m.getSpec().batch.storage.pvc = new dev.nuri.operator.api.v1alpha1.BatchSpec.Pvc();
            m.getSpec().batch.storage.pvc.claimName = "tiny-batches";
        });
        await().atMost(TIMEOUT).untilAsserted(() -> {
            Condition degraded = condition(get(TINY, "batchy"), "Degraded");
            assertThat(degraded.getStatus()).isEqualTo("True");
            assertThat(degraded.getReason()).isEqualTo("BatchStorageMissing");
            assertThat(degraded.getMessage()).isEqualTo("PersistentVolumeClaim tiny-batches named in spec.batch.storage.pvc "
                    + "does not exist in namespace " + TINY);
        });
        client.resources(ModelDeployment.class).inNamespace(TINY).withName("batchy").delete();
        await().atMost(TIMEOUT).until(() -> get(TINY, "batchy") == null && shardPods(TINY, "batchy").isEmpty());
    }

    // --- helpers ---------------------------------------------------------------------------------

    /**
     * Watches shard pods and checks, after every change, that no group serves two revisions at once. An informer,
     * not a bare watch: it lists again when its watch is dropped (a restarted API server), so it keeps seeing.
     */
    static final class RevisionWatch implements AutoCloseable {
        final Map<String, Pod> pods = new ConcurrentHashMap<>();
        final List<String> mixedGroups = new CopyOnWriteArrayList<>();
        volatile int maxGroupsDown;
        private final io.fabric8.kubernetes.client.informers.SharedIndexInformer<Pod> informer;
        private final int shards;

        RevisionWatch(KubernetesClient client, String ns, String name, int shards) {
            this.shards = shards;
            informer = client.pods().inNamespace(ns).withLabel(ShardLabels.DEPLOYMENT, name).inform(
                    new io.fabric8.kubernetes.client.informers.ResourceEventHandler<>() {
                        @Override
                        public void onAdd(Pod pod) {
                            pods.put(pod.getMetadata().getName(), pod);
                            check();
                        }

                        @Override
                        public void onUpdate(Pod old, Pod pod) {
                            onAdd(pod);
                        }

                        @Override
                        public void onDelete(Pod pod, boolean finalStateUnknown) {
                            pods.remove(pod.getMetadata().getName());
                            check();
                        }
                    });
        }

        private synchronized void check() {
            Map<String, List<Pod>> byGroup = pods.values().stream()
                    .collect(Collectors.groupingBy(p -> p.getMetadata().getLabels().get(ShardLabels.GROUP)));
            int down = 0;
            for (var e : byGroup.entrySet()) {
                List<Pod> serving = e.getValue().stream()
                        .filter(p -> p.getMetadata().getDeletionTimestamp() == null && isReady(p)).toList();
                Set<String> revisions = serving.stream().map(p -> p.getMetadata().getLabels().get(ShardLabels.REVISION))
                        .collect(Collectors.toSet());
                if (revisions.size() > 1) mixedGroups.add("group " + e.getKey() + ": " + revisions);
                if (serving.size() < shards) down++;
            }
            maxGroupsDown = Math.max(maxGroupsDown, down);
        }

        @Override
        public void close() {
            informer.close();
        }
    }

    /** A tiny deployment with three ready groups; returns its revision. */
    static String threeReadyGroups(String ns) {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", ns);
        md.getSpec().replicas = 3;
        client.resource(md).create();
        awaitReady(ns, "tiny", 3);
        return get(ns, "tiny").getStatus().updateRevision;
    }

    /**
     * Changes the spec as a user would. The operator may write status between our read and our
     * write (a conflict, 409); a user's kubectl edit would simply be retried, and so is this.
     */
    static void editSpec(String ns, String name, java.util.function.Consumer<dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec> change) {
        await().atMost(TIMEOUT).ignoreException(io.fabric8.kubernetes.client.KubernetesClientException.class).until(() -> {
            client.resources(ModelDeployment.class).inNamespace(ns).withName(name).edit(m -> {
                change.accept(m.getSpec());
                return m;
            });
            return true;
        });
    }

    static boolean isReady(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static void awaitReady(String ns, String name, int groups) {
        await().atMost(TIMEOUT).untilAsserted(() -> {
            ModelDeployment md = get(ns, name);
            assertThat(md.getStatus()).as("status of %s/%s", ns, name).isNotNull();
            assertThat(md.getStatus().observedGeneration).isEqualTo(md.getMetadata().getGeneration());
            assertThat(condition(md, "Ready").getStatus()).as("Ready of %s/%s: %s; Degraded: %s", ns, name,
                    condition(md, "Ready").getMessage(), condition(md, "Degraded").getMessage()).isEqualTo("True");
            assertThat(md.getStatus().readyReplicas).isEqualTo(groups);
            assertThat(md.getStatus().readyGroups).isEqualTo(groups + "/" + groups);
            // Ready also holds mid-rollout; done means every group ready at the new revision
            assertThat(condition(md, "Progressing").getReason()).isEqualTo("Complete");
            assertThat(md.getStatus().updatedReplicas).isEqualTo(groups);
            assertThat(groupNames(ns, name)).hasSize(groups);
        });
    }

    static String awaitRevisionChange(String ns, String name, String before) {
        await().atMost(TIMEOUT).until(() -> !before.equals(get(ns, name).getStatus().updateRevision));
        return get(ns, name).getStatus().updateRevision;
    }

    static ModelDeployment get(String ns, String name) {
        return client.resources(ModelDeployment.class).inNamespace(ns).withName(name).get();
    }

    static Condition condition(ModelDeployment md, String type) {
        assertThat(md.getStatus()).as("status of %s", md.getMetadata().getName()).isNotNull();
        return md.getStatus().conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElseThrow();
    }

    static List<Pod> shardPods(String ns, String name) {
        return client.pods().inNamespace(ns).withLabel(ShardLabels.DEPLOYMENT, name).list().getItems().stream()
                .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
    }

    static List<String> groupNames(String ns, String name) {
        return client.apps().statefulSets().inNamespace(ns).withLabel(ShardLabels.DEPLOYMENT, name).list().getItems()
                .stream().map(s -> s.getMetadata().getName()).sorted().toList();
    }

    static String env(Pod pod, String name) {
        return pod.getSpec().getContainers().getFirst().getEnv().stream().filter(e -> name.equals(e.getName()))
                .findFirst().orElseThrow().getValue();
    }

    static JsonNode readJson(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static String scrape(int port) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }
}
