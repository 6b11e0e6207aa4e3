package dev.nuri.operator.status;

import static dev.nuri.operator.status.ClusterState.CONFIG_ERROR;
import static dev.nuri.operator.status.ClusterState.CRASH_LOOP;
import static dev.nuri.operator.status.ClusterState.IMAGE_PULL_BACK_OFF;
import static dev.nuri.operator.status.ClusterState.READY;
import static dev.nuri.operator.status.ClusterState.STARTING;
import static dev.nuri.operator.status.ClusterState.UNSCHEDULABLE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupRollout;
import dev.nuri.operator.status.StatusAggregator.Blocker;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The status a user reads, from observed groups and the rollout plan as the reconciler makes them:
 * realistic pod statuses go through GroupObserver and GroupRollout first.
 */
class StatusAggregatorTest {

    static final String REV = "new", OLD = "old";

    /** Observe, plan and aggregate as one reconciliation does. */
    static ModelDeploymentStatus reconcile(ClusterState state, Optional<Blocker> blocker) {
        Map<Integer, GroupObservation> groups = state.observe();
        var rollout = state.md.getSpec().rollout();
        GroupRollout.Plan plan = GroupRollout.plan(state.md.getSpec().replicas(), rollout.maxUnavailableGroups(),
                rollout.maxSurgeGroups(), REV, groups, true);
        return StatusAggregator.aggregate(state.md, REV, plan, groups, blocker, null, null, "sel", "http://tiny/v1");
    }

    static ModelDeploymentStatus reconcile(ClusterState state) {
        return reconcile(state, Optional.empty());
    }

    static Condition condition(ModelDeploymentStatus status, String type) {
        return status.conditions.stream().filter(c -> c.getType().equals(type)).findFirst().orElseThrow();
    }

    @Test
    void allGroupsReadyAtTheNewRevision() {
        var status = reconcile(ClusterState.tiny(2).readyGroup(0, REV).readyGroup(1, REV));
        assertThat(condition(status, "Ready")).satisfies(c -> {
            assertThat(c.getStatus()).isEqualTo("True");
            assertThat(c.getReason()).isEqualTo("AllGroupsReady");
            assertThat(c.getMessage()).isEqualTo("2 of 2 groups serving-ready at revision new");
            assertThat(c.getObservedGeneration()).isEqualTo(1L);
        });
        assertThat(condition(status, "Progressing").getStatus()).isEqualTo("False");
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("Complete");
        assertThat(condition(status, "Degraded").getStatus()).isEqualTo("False");
        assertThat(condition(status, "Degraded").getReason()).isEqualTo("AsExpected");
        assertThat(status.readyGroups).isEqualTo("2/2");
        assertThat(status.replicas).isEqualTo(2);
        assertThat(status.readyReplicas).isEqualTo(2);
        assertThat(status.updatedReplicas).isEqualTo(2);
        assertThat(status.groups).extracting(g -> g.state).containsExactly("Ready", "Ready");
    }

    @Test
    void scaledToZeroIsReadyWithItsOwnReason() {
        var status = reconcile(ClusterState.tiny(0));
        assertThat(condition(status, "Ready").getStatus()).isEqualTo("True");
        assertThat(condition(status, "Ready").getReason()).isEqualTo("ScaledToZero");
        assertThat(condition(status, "Progressing").getStatus()).isEqualTo("False");
        assertThat(condition(status, "Degraded").getStatus()).isEqualTo("False");
        assertThat(status.readyGroups).isEqualTo("0/0");
    }

    @Test
    void scalingDownToZeroIsProgressingUntilTheGroupsAreGone() {
        var status = reconcile(ClusterState.tiny(0).readyGroup(0, REV));
        assertThat(condition(status, "Ready").getReason()).isNotEqualTo("ScaledToZero");
        assertThat(condition(status, "Progressing").getStatus()).isEqualTo("True");
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("Scaling");
        assertThat(status.groups).singleElement().satisfies(g -> assertThat(g.state).isEqualTo("Draining"));
    }

    @Test
    void crashLoopingGroupIsDegradedWithTheKubeletsMessage() {
        var state = ClusterState.tiny(1).group(0, REV)
                .pod(0, 0, REV, READY).pod(0, 1, REV, CRASH_LOOP).pod(0, 2, REV, READY).pod(0, 3, REV, READY);
        var status = reconcile(state);
        Condition degraded = condition(status, "Degraded");
        assertThat(degraded.getStatus()).isEqualTo("True");
        assertThat(degraded.getReason()).isEqualTo("CrashLoop");
        assertThat(degraded.getMessage()).isEqualTo("group 0: pod tiny-g0-1: CrashLoopBackOff: "
                + "back-off 1m20s restarting failed container=worker pod=tiny-g0-1_team(5f0c); "
                + "last exit 1: Terminating due to java.lang.OutOfMemoryError: Java heap space");
        assertThat(condition(status, "Ready").getStatus()).isEqualTo("False");
        assertThat(status.groups).singleElement().satisfies(g -> {
            assertThat(g.state).isEqualTo("Failed");
            assertThat(g.message).contains("CrashLoopBackOff");
        });
    }

    @Test
    void imagePullFailureIsDegraded() {
        var state = ClusterState.tiny(1).group(0, REV).shards(0, REV, IMAGE_PULL_BACK_OFF);
        Condition degraded = condition(reconcile(state), "Degraded");
        assertThat(degraded.getReason()).isEqualTo("ImagePullFailed");
        assertThat(degraded.getMessage()).contains("Back-off pulling image \"ghcr.io/nuri-dev/nuri-worker:nope\"");
    }

    @Test
    void missingSecretIsAContainerConfigError() {
        var state = ClusterState.tiny(1).group(0, REV).shards(0, REV, CONFIG_ERROR);
        Condition degraded = condition(reconcile(state), "Degraded");
        assertThat(degraded.getReason()).isEqualTo("ContainerConfigError");
        assertThat(degraded.getMessage()).contains("secret \"api-key\" not found");
    }

    @Test
    void failingGroupAtTheNewRevisionStallsTheRolloutAndSaysWhere() {
        var state = ClusterState.tiny(2).group(0, REV).shards(0, REV, CRASH_LOOP).readyGroup(1, OLD);
        var status = reconcile(state);
        Condition degraded = condition(status, "Degraded");
        assertThat(degraded.getStatus()).isEqualTo("True");
        assertThat(degraded.getReason()).isEqualTo("RolloutStalled");
        assertThat(degraded.getMessage()).startsWith("rollout stopped at group 0: pod tiny-g0-0: CrashLoopBackOff");
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("RollingOut");
        assertThat(status.groups).extracting(g -> g.state).containsExactly("Failed", "Outdated");
        assertThat(status.readyGroups).isEqualTo("1/2");
    }

    @Test
    void aBlockerComesBeforeGroupFailures() {
        var state = ClusterState.tiny(1).group(0, REV).shards(0, REV, CRASH_LOOP);
        var status = reconcile(state, Optional.of(new Blocker("ModelSourceMissing", "PersistentVolumeClaim w is missing")));
        assertThat(condition(status, "Degraded").getReason()).isEqualTo("ModelSourceMissing");
        assertThat(condition(status, "Degraded").getMessage()).isEqualTo("PersistentVolumeClaim w is missing");
    }

    @Test
    void rollingOutNamesTheGroupBeingUpdated() {
        // group 0 already moved and is starting; group 1 waits its turn
        var state = ClusterState.tiny(2).group(0, REV).shards(0, REV, STARTING).readyGroup(1, OLD);
        var status = reconcile(state);
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("RollingOut");
        assertThat(condition(status, "Progressing").getMessage())
                .isEqualTo("1/2 groups at revision new, 2 desired; on group 0");
        assertThat(status.groups).extracting(g -> g.state).containsExactly("Starting", "Outdated");
        assertThat(status.updatedReplicas).isEqualTo(1);
        assertThat(condition(status, "Degraded").getStatus()).isEqualTo("False");
    }

    @Test
    void staleShardsKeepARolloutGoingEvenWhenEveryTemplateIsCurrent() {
        var state = ClusterState.tiny(1).group(0, REV)
                .pod(0, 0, OLD, READY).pod(0, 1, OLD, READY).pod(0, 2, REV, READY).pod(0, 3, REV, READY);
        var status = reconcile(state);
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("RollingOut");
        assertThat(condition(status, "Progressing").getMessage()).startsWith("0/1 groups at revision new");
        assertThat(condition(status, "Ready").getStatus()).isEqualTo("False");
    }

    @Test
    void newGroupsStartingIsProgressingStarting() {
        var status = reconcile(ClusterState.tiny(1).group(0, REV).shards(0, REV, STARTING));
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("Starting");
        assertThat(status.groups).singleElement().satisfies(g -> {
            assertThat(g.state).isEqualTo("Starting");
            assertThat(g.readyShards).isZero();
            assertThat(g.shards).isEqualTo(4);
        });
    }

    @Test
    void anUnchangedWorldGivesAnIdenticalStatusSoNothingIsWritten() throws Exception {
        var state = ClusterState.tiny(2).readyGroup(0, REV).readyGroup(1, REV);
        ModelDeploymentStatus first = reconcile(state);
        state.md.setStatus(first);
        ModelDeploymentStatus second = reconcile(state);
        ObjectMapper json = new ObjectMapper();
        assertThat((Object) json.valueToTree(second)).isEqualTo(json.valueToTree(first));
    }

    @Test
    void aConditionKeepsItsTransitionTimeUntilItsStatusChanges() {
        var state = ClusterState.tiny(1).group(0, REV).shards(0, REV, STARTING);
        ModelDeploymentStatus starting = reconcile(state);
        condition(starting, "Ready").setLastTransitionTime("2026-11-30T07:00:00Z");
        condition(starting, "Degraded").setLastTransitionTime("2026-11-30T07:00:00Z");
        state.md.setStatus(starting);

        var ready = ClusterState.tiny(1).readyGroup(0, REV);
        ready.md.setStatus(starting);
        ModelDeploymentStatus after = reconcile(ready);
        assertThat(condition(after, "Ready").getStatus()).isEqualTo("True");
        assertThat(condition(after, "Ready").getLastTransitionTime()).as("Ready flipped").isNotEqualTo("2026-11-30T07:00:00Z");
        assertThat(condition(after, "Degraded").getLastTransitionTime()).as("Degraded stayed False")
                .isEqualTo("2026-11-30T07:00:00Z");
    }

    @Test
    void surgeGroupsAreNotCountedAsMoreThanDesired() {
        var state = ClusterState.tiny(1).readyGroup(0, OLD).readyGroup(1, REV);
        state.md.getSpec().rollout = new dev.nuri.operator.api.v1alpha1.RolloutSpec();
        state.md.getSpec().rollout.maxSurgeGroups = 1;
        state.md.getSpec().rollout.maxUnavailableGroups = 0;
        var status = reconcile(state);
        assertThat(status.readyGroups).isEqualTo("1/1");
        assertThat(status.readyReplicas).isEqualTo(2);
        // both groups serve: Ready stays True, Progressing says the rollout is not done
        assertThat(condition(status, "Ready").getStatus()).isEqualTo("True");
        assertThat(condition(status, "Ready").getReason()).isEqualTo("MinimumGroupsServing");
        assertThat(condition(status, "Progressing").getStatus()).isEqualTo("True");
        assertThat(condition(status, "Progressing").getMessage()).endsWith("; 1 surge group(s)");
        assertThat(status.groups.stream().map(g -> g.index)).containsExactly(0, 1);
    }

    /**
     * Seen as a user on examples/axk1-rebellions-rebel.yaml: with maxUnavailableGroups 0 and
     * maxSurgeGroups 1 both old groups kept serving through a template change, yet Ready turned
     * False for the whole rollout, so an alert on Ready fired on every rollout.
     */
    @Test
    void aSurgeRolloutThatKeepsEveryGroupServingStaysReady() {
        var state = ClusterState.tiny(2).readyGroup(0, OLD).readyGroup(1, OLD).group(2, REV).shards(2, REV, STARTING);
        state.md.getSpec().rollout = new dev.nuri.operator.api.v1alpha1.RolloutSpec();
        state.md.getSpec().rollout.maxSurgeGroups = 1;
        state.md.getSpec().rollout.maxUnavailableGroups = 0;
        var status = reconcile(state);
        assertThat(condition(status, "Ready")).satisfies(c -> {
            assertThat(c.getStatus()).isEqualTo("True");
            assertThat(c.getReason()).isEqualTo("MinimumGroupsServing");
            assertThat(c.getMessage()).isEqualTo("2 of 2 groups serving (0 at revision new); at least 2 must serve (maxUnavailableGroups 0)");
        });
        assertThat(condition(status, "Progressing").getReason()).isEqualTo("RollingOut");
        assertThat(status.groups).extracting(g -> g.state).containsExactly("Outdated", "Outdated", "Starting");
    }

    @Test
    void aRolloutBelowWhatMaxUnavailableAllowsIsNotReady() {
        // one group, maxUnavailableGroups 1 (the default): the only group is moved, nothing serves
        var moving = ClusterState.tiny(1).group(0, REV).shards(0, REV, STARTING);
        assertThat(condition(reconcile(moving), "Ready").getStatus()).isEqualTo("False");
        // two groups, one moved: one serves, which is what maxUnavailableGroups 1 allows
        var oneOfTwo = ClusterState.tiny(2).group(0, REV).shards(0, REV, STARTING).readyGroup(1, OLD);
        var status = reconcile(oneOfTwo);
        assertThat(condition(status, "Ready").getStatus()).isEqualTo("True");
        assertThat(condition(status, "Ready").getMessage())
                .isEqualTo("1 of 2 groups serving (0 at revision new); at least 1 must serve (maxUnavailableGroups 1)");
        // both out (the old one lost a shard as well): below the minimum
        var none = ClusterState.tiny(2).group(0, REV).shards(0, REV, STARTING).group(1, OLD)
                .pod(1, 0, OLD, READY).pod(1, 1, OLD, STARTING).pod(1, 2, OLD, READY).pod(1, 3, OLD, READY);
        assertThat(condition(reconcile(none), "Ready").getStatus()).isEqualTo("False");
    }

    @Test
    void anUnschedulableGroupIsPendingNotFailed() {
        var state = ClusterState.tiny(2).readyGroup(0, REV).group(1, REV).shards(1, REV, UNSCHEDULABLE);
        var status = reconcile(state);
        assertThat(status.groups.get(1)).satisfies(g -> {
            assertThat(g.state).isEqualTo("Pending");
            assertThat(g.message).contains("Insufficient rebellions.ai/ATOM");
        });
        assertThat(condition(status, "Degraded").getReason()).as("the user still learns why").isEqualTo("Unschedulable");
    }
    /** Seen on the real node (RealNodeIT): a deleted shard pod; KWOK never loses one. */
    @Test
    void aServingGroupThatLosesAShardIsRecoveringAndDegradedUntilItIsBack() {
        var serving = ClusterState.tiny(1).readyGroup(0, REV);
        ModelDeploymentStatus before = reconcile(serving);
        assertThat(before.groups).singleElement().satisfies(g -> assertThat(g.state).isEqualTo("Ready"));

        var lost = ClusterState.tiny(1).group(0, REV)
                .pod(0, 0, REV, READY).pod(0, 1, REV, STARTING).pod(0, 2, REV, READY).pod(0, 3, REV, READY);
        lost.md.setStatus(before);
        ModelDeploymentStatus recovering = reconcile(lost);
        assertThat(recovering.groups).singleElement().satisfies(g -> {
            assertThat(g.state).isEqualTo("Recovering");
            assertThat(g.message).isEqualTo("3 of 4 shards ready; it served before and answers 503 until the missing shards are back");
        });
        assertThat(condition(recovering, "Degraded")).satisfies(c -> {
            assertThat(c.getStatus()).isEqualTo("True");
            assertThat(c.getReason()).isEqualTo("ShardLost");
            assertThat(c.getMessage()).startsWith("group 0: 3 of 4 shards ready");
        });
        assertThat(condition(recovering, "Ready").getStatus()).isEqualTo("False");

        // the next reconciliation still sees a group that served (its previous state is Recovering)
        var worse = ClusterState.tiny(1).group(0, REV).shards(0, REV, STARTING);
        worse.md.setStatus(recovering);
        ModelDeploymentStatus still = reconcile(worse);
        assertThat(still.groups.getFirst().state).isEqualTo("Recovering");

        var back = ClusterState.tiny(1).readyGroup(0, REV);
        back.md.setStatus(still);
        ModelDeploymentStatus after = reconcile(back);
        assertThat(after.groups.getFirst().state).isEqualTo("Ready");
        assertThat(condition(after, "Degraded").getStatus()).isEqualTo("False");
        assertThat(condition(after, "Ready").getStatus()).isEqualTo("True");
    }

    @Test
    void aGroupMovedToANewRevisionIsUpdatingNotRecovering() {
        var old = ClusterState.tiny(1).readyGroup(0, OLD);
        ModelDeploymentStatus before = reconcile(old);
        var moved = ClusterState.tiny(1).group(0, REV).shards(0, REV, STARTING);
        moved.md.setStatus(before);
        ModelDeploymentStatus status = reconcile(moved);
        assertThat(status.groups.getFirst().state).isNotEqualTo("Recovering");
        assertThat(condition(status, "Degraded").getStatus()).isEqualTo("False");
    }
}
