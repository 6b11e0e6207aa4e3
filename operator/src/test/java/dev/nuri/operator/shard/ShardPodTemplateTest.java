package dev.nuri.operator.shard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.WorkerJvm;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shard pod that the operator asks for, from the examples users apply. */
class ShardPodTemplateTest {

    static final Path REPO = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent();

    static ModelDeployment example(String file) throws IOException {
        ModelDeployment md = new KubernetesSerialization().unmarshal(Files.readString(REPO.resolve("examples").resolve(file)),
                ModelDeployment.class);
        md.getMetadata().setNamespace("prod");
        return md;
    }

    static Container worker(PodTemplateSpec t) {
        return t.getSpec().getContainers().getFirst();
    }

    static String env(PodTemplateSpec t, String name) {
        return worker(t).getEnv().stream().filter(e -> e.getName().equals(name)).findFirst().map(EnvVar::getValue).orElse(null);
    }

    @Test
    void rebelShardRequestsItsDevicesAndLandsOnRebelNodes() throws IOException {
        PodTemplateSpec t = ShardPodTemplate.build(example("axk1-rebellions-rebel.yaml"), 1, "img", "rev1");
        assertThat(worker(t).getResources().getRequests()).containsEntry("rebellions.ai/REBEL", new Quantity("1"))
                .containsEntry("cpu", new Quantity("6"));
        assertThat(worker(t).getResources().getLimits()).containsEntry("rebellions.ai/REBEL", new Quantity("1"));
        assertThat(t.getSpec().getNodeSelector()).containsEntry("rebellions.ai/npu.family", "rebel");
        assertThat(t.getSpec().getTolerations()).anyMatch(tol -> tol.getKey().equals("rebellions.ai/REBEL"));
        // shards of group 1 pack into one zone; other groups are avoided per host
        var affinity = t.getSpec().getAffinity();
        assertThat(affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().getFirst().getTopologyKey())
                .isEqualTo("topology.kubernetes.io/zone");
        assertThat(affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().getFirst()
                .getLabelSelector().getMatchLabels()).containsEntry(ShardLabels.GROUP, "1");
        assertThat(affinity.getPodAntiAffinity().getPreferredDuringSchedulingIgnoredDuringExecution().getFirst()
                .getPodAffinityTerm().getTopologyKey()).isEqualTo("kubernetes.io/hostname");
    }

    @Test
    void shardKnowsItsGroupPeersAndPlacementOfItsRevision() throws IOException {
        PodTemplateSpec t = ShardPodTemplate.build(example("axk1-rebellions-rebel.yaml"), 1, "img", "rev1");
        List<String> peers = List.of(env(t, ShardSetting.PEERS.env()).split(","));
        assertThat(peers).hasSize(16).first().isEqualTo("axk1-g1-0.axk1-shards.prod.svc:9000");
        assertThat(peers).last().isEqualTo("axk1-g1-15.axk1-shards.prod.svc:9000");
        assertThat(env(t, ShardSetting.GROUP_INDEX.env())).isEqualTo("1");
        assertThat(env(t, ShardSetting.SHARDS.env())).isEqualTo("16");
        assertThat(env(t, ShardSetting.PLACEMENT_FILE.env())).isEqualTo("/etc/nuri/placement/placement-rev1.json");
        assertThat(env(t, ShardSetting.MODEL.env())).isEqualTo("/models/models/A.X-K1-FP8");
        assertThat(env(t, "JAVA_TOOL_OPTIONS")).as("the worker's JVM options, as its image sets them").isEqualTo(WorkerJvm.toolOptions());
        assertThat(worker(t).getEnv()).filteredOn(e -> e.getName().equals(ShardSetting.SHARD_INDEX.env())).singleElement()
                .satisfies(e -> assertThat(e.getValueFrom().getFieldRef().getFieldPath()).contains(ShardLabels.POD_INDEX));
        assertThat(t.getMetadata().getLabels()).containsEntry(ShardLabels.REVISION, "rev1");
    }

    @Test
    void batchStorageOnAClaimIsEachPodsOwnFolderAtTheBatchDir() throws IOException {
        ModelDeployment md = example("tiny-cpu.yaml");
        assertThat(env(ShardPodTemplate.build(md, 0, "img", "r"), ShardSetting.BATCH_DIR.env())).as("no storage: no batch dir").isNull();
        md.getSpec().batch = new dev.nuri.operator.api.v1alpha1.BatchSpec();
        md.getSpec().batch.storage = new dev.nuri.operator.api.v1alpha1.BatchSpec.Storage();
        md.getSpec().batch.storage.pvc = new dev.nuri.operator.api.v1alpha1.BatchSpec.Pvc();
        md.getSpec().batch.storage.pvc.claimName = "batches";
        PodTemplateSpec t = ShardPodTemplate.build(md, 0, "img", "r");
        assertThat(env(t, ShardSetting.BATCH_DIR.env())).isEqualTo("/var/lib/nuri/batch");
        assertThat(t.getSpec().getVolumes()).filteredOn(v -> v.getName().equals("batch")).singleElement()
                .satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("batches"));
        assertThat(worker(t).getVolumeMounts()).filteredOn(m -> m.getName().equals("batch")).singleElement()
                .satisfies(m -> assertThat(m.getSubPathExpr()).isEqualTo("$(POD_NAME)"));
    }

    @Test
    void batchStepTokensReachTheWorkerOnlyWhenSet() throws IOException {
        ModelDeployment md = example("tiny-cpu.yaml");
        assertThat(env(ShardPodTemplate.build(md, 0, "img", "r"), ShardSetting.BATCH_STEP_TOKENS.env()))
                .as("unset: the worker's default").isNull();
        md.getSpec().batch = new dev.nuri.operator.api.v1alpha1.BatchSpec();
        md.getSpec().batch.stepTokens = 128;
        assertThat(env(ShardPodTemplate.build(md, 0, "img", "r"), ShardSetting.BATCH_STEP_TOKENS.env())).isEqualTo("128");
    }

    @Test
    void podPassesTheRestrictedProfileShape() throws IOException {
        PodTemplateSpec t = ShardPodTemplate.build(example("tiny-cpu.yaml"), 0, "img", "r");
        var pod = t.getSpec().getSecurityContext();
        assertThat(pod.getRunAsNonRoot()).isTrue();
        assertThat(pod.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        var c = worker(t).getSecurityContext();
        assertThat(c.getAllowPrivilegeEscalation()).isFalse();
        assertThat(c.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(c.getReadOnlyRootFilesystem()).isTrue();
        assertThat(t.getSpec().getVolumes()).noneMatch(v -> v.getHostPath() != null);
        assertThat(worker(t).getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/ready");
        // a deleted pod serves on while it leaves the endpoints (no shell: the kubelet's own sleep), then drains
        long preStop = worker(t).getLifecycle().getPreStop().getSleep().getSeconds();
        assertThat(preStop).isEqualTo(5);
        assertThat(t.getSpec().getTerminationGracePeriodSeconds())
                .isGreaterThan(preStop + Long.parseLong(env(t, ShardSetting.DRAIN_SECONDS.env())));
    }

    /** How long the kubelet lets a probe go unanswered in a row before it acts: every probe timing out. */
    static long silenceBeforeAction(io.fabric8.kubernetes.api.model.Probe p) {
        return (long) p.getFailureThreshold() * Math.max(p.getPeriodSeconds(), p.getTimeoutSeconds());
    }

    @Test
    void livenessGivesABusyShardMinutesAndReadinessCarriesTheServingState() throws IOException {
        var c = worker(ShardPodTemplate.build(example("tiny-cpu.yaml"), 0, "img", "r"));
        // a restart loses every request in flight in the group: on the real node at load average 50-76 a 3 s timeout
        // and 60 s of failed probes restarted all four shards of a group (ShardProbes)
        assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health/live"); // no work, not the serving state
        assertThat(c.getLivenessProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(10);
        assertThat(silenceBeforeAction(c.getLivenessProbe())).isGreaterThanOrEqualTo(120);
        // readiness (loading, draining, a peer missing) takes the shard out of the endpoints well before liveness acts,
        // and a loaded node's slow answer does not empty the endpoints at once
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/ready");
        assertThat(c.getReadinessProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(5);
        assertThat(silenceBeforeAction(c.getReadinessProbe())).isLessThan(silenceBeforeAction(c.getLivenessProbe()) / 4);
        // a large model loads for up to an hour; a slow answer while loading counts as no answer, not as death
        assertThat(c.getStartupProbe().getHttpGet().getPath()).isEqualTo("/health/live");
        assertThat(c.getStartupProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(10);
        assertThat((long) c.getStartupProbe().getFailureThreshold() * c.getStartupProbe().getPeriodSeconds())
                .isGreaterThanOrEqualTo(3600);
    }

    @Test
    void httpSourceIsFetchedAndVerifiedBeforeTheWorkerStarts() throws IOException {
        ModelDeployment md = example("tiny-cpu.yaml");
        md.getSpec().model.source.builtin = null;
        md.getSpec().model.source.http = new dev.nuri.operator.api.v1alpha1.ModelSource.HttpSource();
        md.getSpec().model.source.http.url = "https://models.example.com/m.tar";
        md.getSpec().model.source.http.sha256 = "ab".repeat(32);
        PodTemplateSpec t = ShardPodTemplate.build(md, 0, "img", "r");
        Container fetch = t.getSpec().getInitContainers().getFirst();
        // the worker image's own fetch-model (HttpModelSourceTest): no other image to pull
        assertThat(fetch.getImage()).isEqualTo("img");
        assertThat(fetch.getArgs()).containsExactly("fetch-model", "--dest", "/models");
        assertThat(fetch.getEnv()).anyMatch(e -> e.getName().equals("NURI_MODEL_SHA256") && e.getValue().equals("ab".repeat(32)));
        assertThat(fetch.getEnv()).anyMatch(e -> e.getName().equals("NURI_MODEL_URL") && e.getValue().equals("https://models.example.com/m.tar"));
        assertThat(fetch.getTerminationMessagePolicy()).isEqualTo("FallbackToLogsOnError");
        assertThat(fetch.getVolumeMounts()).anyMatch(m -> m.getMountPath().equals("/models") && !Boolean.TRUE.equals(m.getReadOnly()));
        assertThat(env(t, ShardSetting.MODEL.env())).isEqualTo("/models");
    }
}
