package dev.nuri.operator.status;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the informers would hold for one deployment: the group StatefulSets and shard pods, the pods
 * with statuses as the kubelet and scheduler write them (the YAML snippets below are copied from
 * {@code kubectl get pod -o yaml} of such pods, names changed).
 */
final class ClusterState {

    static final KubernetesSerialization YAML = new KubernetesSerialization();

    final ModelDeployment md;
    final List<StatefulSet> statefulSets = new ArrayList<>();
    final List<Pod> pods = new ArrayList<>();

    ClusterState(ModelDeployment md) {
        this.md = md;
    }

    /** The tiny example (4 shards per group) with {@code replicas} groups, at generation 1. */
    static ClusterState tiny(int replicas) {
        try {
            ModelDeployment md = YAML.unmarshal(Files.readString(Path.of(System.getProperty("basedir", "."))
                    .toAbsolutePath().normalize().getParent().resolve("examples/tiny-cpu.yaml")), ModelDeployment.class);
            md.getMetadata().setNamespace("team");
            md.getMetadata().setGeneration(1L);
            md.getSpec().replicas = replicas;
            return new ClusterState(md);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Group {@code index}'s StatefulSet, its template at {@code revision}. */
    ClusterState group(int index, String revision) {
        statefulSets.add(new StatefulSetBuilder()
                .withNewMetadata().withName(ShardNames.group(md, index)).withNamespace("team").endMetadata()
                .withNewSpec().withReplicas(md.getSpec().experts.parallelism())
                .withNewTemplate().withNewMetadata().addToLabels(ShardLabels.REVISION, revision).endMetadata().endTemplate()
                .endSpec().build());
        return this;
    }

    /** Shard {@code shard} of group {@code group} at {@code revision}, with a pod status from below. */
    ClusterState pod(int group, int shard, String revision, String status) {
        String yaml = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: %s-%d
                  namespace: team
                  labels:
                    serving.nuri.dev/deployment: %s
                    serving.nuri.dev/group: "%d"
                    serving.nuri.dev/revision: %s
                    apps.kubernetes.io/pod-index: "%d"
                """.formatted(ShardNames.group(md, group), shard, md.getMetadata().getName(), group, revision, shard)
                + status;
        pods.add(YAML.unmarshal(yaml, Pod.class));
        return this;
    }

    /** Every shard of a group at {@code revision}, all with {@code status}. */
    ClusterState shards(int group, String revision, String status) {
        for (int s = 0; s < md.getSpec().experts.parallelism(); s++) {
            pod(group, s, revision, status);
        }
        return this;
    }

    ClusterState readyGroup(int index, String revision) {
        return group(index, revision).shards(index, revision, READY);
    }

    java.util.Map<Integer, dev.nuri.operator.rollout.GroupObservation> observe() {
        return GroupObserver.observe(md, statefulSets, pods);
    }

    // --- pod statuses --------------------------------------------------------------------------

    static final String READY = """
            status:
              phase: Running
              conditions:
              - {type: PodReadyToStartContainers, status: "True"}
              - {type: Initialized, status: "True"}
              - {type: Ready, status: "True"}
              - {type: ContainersReady, status: "True"}
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: true
                started: true
                restartCount: 0
                image: ghcr.io/nuri-dev/nuri-worker:0.1.0
                state:
                  running: {startedAt: "2026-11-30T08:00:00Z"}
            """;

    /** Scheduled and running, not yet serving-ready (loading weights, waiting for peers). */
    static final String STARTING = """
            status:
              phase: Running
              conditions:
              - {type: Initialized, status: "True"}
              - {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [worker]"}
              - {type: ContainersReady, status: "False", reason: ContainersNotReady}
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: false
                started: true
                restartCount: 0
                state:
                  running: {startedAt: "2026-11-30T08:00:00Z"}
            """;

    static final String CRASH_LOOP = """
            status:
              phase: Running
              conditions:
              - {type: Initialized, status: "True"}
              - {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [worker]"}
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: false
                started: false
                restartCount: 4
                lastState:
                  terminated: {exitCode: 1, reason: Error, startedAt: "2026-11-30T08:01:00Z", finishedAt: "2026-11-30T08:01:02Z",
                               message: "Terminating due to java.lang.OutOfMemoryError: Java heap space"}
                state:
                  waiting:
                    reason: CrashLoopBackOff
                    message: back-off 1m20s restarting failed container=worker pod=tiny-g0-1_team(5f0c)
            """;

    static final String IMAGE_PULL_BACK_OFF = """
            status:
              phase: Pending
              conditions:
              - {type: Initialized, status: "True"}
              - {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [worker]"}
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: false
                started: false
                restartCount: 0
                image: ghcr.io/nuri-dev/nuri-worker:nope
                state:
                  waiting:
                    reason: ImagePullBackOff
                    message: Back-off pulling image "ghcr.io/nuri-dev/nuri-worker:nope"
            """;

    static final String ERR_IMAGE_PULL = """
            status:
              phase: Pending
              conditions:
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: false
                restartCount: 0
                state:
                  waiting:
                    reason: ErrImagePull
                    message: 'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/nuri-dev/nuri-worker:nope": not found'
            """;

    static final String CONFIG_ERROR = """
            status:
              phase: Pending
              conditions:
              - {type: PodScheduled, status: "True"}
              containerStatuses:
              - name: worker
                ready: false
                restartCount: 0
                state:
                  waiting:
                    reason: CreateContainerConfigError
                    message: secret "api-key" not found
            """;

    /** The http source's init container failing its digest check, again and again. */
    static final String INIT_CRASH_LOOP = """
            status:
              phase: Pending
              conditions:
              - {type: Initialized, status: "False", reason: ContainersNotInitialized, message: "containers with incomplete status: [fetch-model]"}
              - {type: PodScheduled, status: "True"}
              initContainerStatuses:
              - name: fetch-model
                ready: false
                restartCount: 3
                lastState:
                  terminated:
                    exitCode: 1
                    reason: Error
                    message: 'the archive at http://10.244.0.1:8080/m.tar has SHA-256 8f43..., but spec.model.source.http.sha256 is 0000...; fix the digest or the URL (nothing was unpacked)'
                state:
                  waiting:
                    reason: CrashLoopBackOff
                    message: back-off 40s restarting failed container=fetch-model pod=tiny-g0-0_team(77aa)
              containerStatuses:
              - name: worker
                ready: false
                restartCount: 0
                state:
                  waiting: {reason: PodInitializing}
            """;

    static final String UNSCHEDULABLE = """
            status:
              phase: Pending
              conditions:
              - type: PodScheduled
                status: "False"
                reason: Unschedulable
                message: '0/6 nodes are available: 6 Insufficient rebellions.ai/ATOM. preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod.'
            """;

    /** Created, not looked at by the scheduler yet. */
    static final String PENDING = """
            status:
              phase: Pending
            """;
}
