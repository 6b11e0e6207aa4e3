package dev.nuri.operator.status;

import static dev.nuri.operator.status.ClusterState.CONFIG_ERROR;
import static dev.nuri.operator.status.ClusterState.CRASH_LOOP;
import static dev.nuri.operator.status.ClusterState.ERR_IMAGE_PULL;
import static dev.nuri.operator.status.ClusterState.IMAGE_PULL_BACK_OFF;
import static dev.nuri.operator.status.ClusterState.INIT_CRASH_LOOP;
import static dev.nuri.operator.status.ClusterState.PENDING;
import static dev.nuri.operator.status.ClusterState.READY;
import static dev.nuri.operator.status.ClusterState.STARTING;
import static dev.nuri.operator.status.ClusterState.UNSCHEDULABLE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupObservation.GroupFailure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How the informers' StatefulSets and pods become one observation per group. */
class GroupObserverTest {

    @Test
    void aGroupIsReadyWhenEveryShardIsReadyAtItsRevision() {
        var state = ClusterState.tiny(1).readyGroup(0, "r1");
        assertThat(state.observe()).containsOnlyKeys(0);
        GroupObservation g = state.observe().get(0);
        assertThat(g).isEqualTo(new GroupObservation("r1", 4, 4, 0, 4, java.util.Optional.empty()));
        assertThat(g.ready()).isTrue();
    }

    @Test
    void oneShardNotReadyKeepsTheGroupNotReady() {
        var state = ClusterState.tiny(1).group(0, "r1")
                .pod(0, 0, "r1", READY).pod(0, 1, "r1", READY).pod(0, 2, "r1", READY).pod(0, 3, "r1", STARTING);
        GroupObservation g = state.observe().get(0);
        assertThat(g.readyShards()).isEqualTo(3);
        assertThat(g.ready()).isFalse();
        assertThat(g.failure()).as("starting is not failing").isEmpty();
    }

    @Test
    void aTerminatingPodIsNotCountedReady() {
        var state = ClusterState.tiny(1).readyGroup(0, "r1");
        state.pods.getFirst().getMetadata().setDeletionTimestamp("2026-11-30T08:05:00Z");
        GroupObservation g = state.observe().get(0);
        assertThat(g.readyShards()).isEqualTo(3);
        assertThat(g.pods()).as("terminating pods still exist").isEqualTo(4);
        assertThat(g.ready()).isFalse();
    }

    @Test
    void podsOfAnotherRevisionThanTheStatefulSetAreStaleAndNeverReady() {
        // the StatefulSet was moved to r2 while two pods of r1 still run (OnDelete keeps them)
        var state = ClusterState.tiny(1).group(0, "r2")
                .pod(0, 0, "r1", READY).pod(0, 1, "r1", READY).pod(0, 2, "r2", READY).pod(0, 3, "r2", READY);
        GroupObservation g = state.observe().get(0);
        assertThat(g.revision()).isEqualTo("r2");
        assertThat(g.staleShards()).isEqualTo(2);
        assertThat(g.readyShards()).as("only pods at the group's revision count").isEqualTo(2);
        assertThat(g.ready()).isFalse();
    }

    @Test
    void aDrainedGroupStillCountsTheShardsItShouldHave() {
        var state = ClusterState.tiny(1).group(0, "r1");
        GroupObservation g = state.observe().get(0);
        assertThat(g.shards()).isEqualTo(4);
        assertThat(g.pods()).isZero();
        assertThat(g.ready()).isFalse();
    }

    @Test
    void podsAndStatefulSetsOfOtherGroupsAndDeploymentsAreIgnored() {
        var state = ClusterState.tiny(2).readyGroup(0, "r1").readyGroup(1, "r1");
        state.pods.getLast().getMetadata().getLabels().put("serving.nuri.dev/deployment", "other");
        state.statefulSets.add(new io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder()
                .withNewMetadata().withName("tinyish-g0").endMetadata().build());
        var groups = state.observe();
        assertThat(groups).containsOnlyKeys(0, 1);
        assertThat(groups.get(0).pods()).isEqualTo(4);
        assertThat(groups.get(1).pods()).as("the other deployment's pod is not ours").isEqualTo(3);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            CRASH_LOOP          | CrashLoop            | pod tiny-g0-1: CrashLoopBackOff: back-off 1m20s restarting failed container=worker
            IMAGE_PULL_BACK_OFF | ImagePullFailed      | pod tiny-g0-1: ImagePullBackOff: Back-off pulling image "ghcr.io/nuri-dev/nuri-worker:nope"
            ERR_IMAGE_PULL      | ImagePullFailed      | pod tiny-g0-1: ErrImagePull: rpc error: code = NotFound
            CONFIG_ERROR        | ContainerConfigError | pod tiny-g0-1: CreateContainerConfigError: secret "api-key" not found
            INIT_CRASH_LOOP     | ModelFetchFailed     | pod tiny-g0-1: the model download failed: the archive at http://10.244.0.1:8080/m.tar has SHA-256 8f43..., but spec.model.source.http.sha256 is 0000...; fix the digest or the URL
            UNSCHEDULABLE       | Unschedulable        | pod tiny-g0-1: 0/6 nodes are available: 6 Insufficient rebellions.ai/ATOM.
            """)
    void aFailingShardGivesTheReasonAndKubernetesOwnWords(String status, String reason, String message) throws Exception {
        String yaml = (String) ClusterState.class.getDeclaredField(status).get(null);
        var state = ClusterState.tiny(1).group(0, "r1")
                .pod(0, 0, "r1", READY).pod(0, 1, "r1", yaml).pod(0, 2, "r1", READY).pod(0, 3, "r1", READY);
        GroupFailure failure = state.observe().get(0).failure().orElseThrow();
        assertThat(failure.reason()).isEqualTo(reason);
        assertThat(failure.message()).startsWith(message);
    }

    /** Seen on the real node: the first failed download shows as terminated before any back-off. */
    @Test
    void aFailedDownloadIsAFailureFromItsFirstExit() {
        String failedOnce = """
                status:
                  phase: Pending
                  initContainerStatuses:
                  - name: fetch-model
                    ready: false
                    state:
                      terminated: {exitCode: 1, reason: Error, message: "cannot download http://10.244.0.1:1/m.tar: HTTP 404"}
                  containerStatuses:
                  - name: worker
                    ready: false
                    state:
                      waiting: {reason: PodInitializing}
                """;
        var state = ClusterState.tiny(1).group(0, "r1").pod(0, 0, "r1", failedOnce);
        assertThat(state.observe().get(0).failure()).contains(new GroupFailure("ModelFetchFailed",
                "pod tiny-g0-0: the model download failed: cannot download http://10.244.0.1:1/m.tar: HTTP 404"));
    }

    @Test
    void aCrashLoopSaysWhyTheLastRunEnded() {
        String crashed = """
                status:
                  phase: Running
                  containerStatuses:
                  - name: worker
                    ready: false
                    restartCount: 4
                    lastState:
                      terminated: {exitCode: 2, reason: Error, message: "nuri-worker: config.json sets hidden_act gelu; the kernels implement silu only"}
                    state:
                      waiting: {reason: CrashLoopBackOff, message: back-off 1m20s restarting failed container=worker}
                """;
        var state = ClusterState.tiny(1).group(0, "r1").pod(0, 0, "r1", crashed);
        assertThat(state.observe().get(0).failure().orElseThrow().message()).isEqualTo("pod tiny-g0-0: CrashLoopBackOff: "
                + "back-off 1m20s restarting failed container=worker; last exit 2: nuri-worker: config.json sets hidden_act gelu; "
                + "the kernels implement silu only");
    }

    @Test
    void waitingForTheSchedulerOrPullingIsNotAFailure() {
        String pulling = """
                status:
                  phase: Pending
                  conditions:
                  - {type: PodScheduled, status: "True"}
                  containerStatuses:
                  - name: worker
                    ready: false
                    state:
                      waiting: {reason: ContainerCreating}
                """;
        var state = ClusterState.tiny(1).group(0, "r1")
                .pod(0, 0, "r1", PENDING).pod(0, 1, "r1", pulling).pod(0, 2, "r1", STARTING).pod(0, 3, "r1", INIT_WAITING);
        assertThat(state.observe().get(0).failure()).isEmpty();
    }

    /** Init container still running its download: no failure yet. */
    static final String INIT_WAITING = """
            status:
              phase: Pending
              conditions:
              - {type: Initialized, status: "False", reason: ContainersNotInitialized}
              - {type: PodScheduled, status: "True"}
              initContainerStatuses:
              - name: fetch-model
                ready: false
                state:
                  running: {startedAt: "2026-11-30T08:00:00Z"}
              containerStatuses:
              - name: worker
                ready: false
                state:
                  waiting: {reason: PodInitializing}
            """;
}
