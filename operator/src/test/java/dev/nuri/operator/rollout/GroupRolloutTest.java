package dev.nuri.operator.rollout;

import static dev.nuri.operator.rollout.GroupRollout.Action.DRAIN;
import static dev.nuri.operator.rollout.GroupRollout.Action.KEEP;
import static dev.nuri.operator.rollout.GroupRollout.Action.UPDATE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.rollout.GroupObservation.GroupFailure;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The group-by-group rollout decisions, on observed states. */
class GroupRolloutTest {

    static GroupObservation ready(String rev) {
        return new GroupObservation(rev, 4, 4, 0, 4, Optional.empty());
    }

    static GroupObservation starting(String rev) {
        return new GroupObservation(rev, 4, 1, 0, 4, Optional.empty());
    }

    static Map<Integer, GroupObservation> groups(GroupObservation... g) {
        Map<Integer, GroupObservation> m = new TreeMap<>();
        for (int i = 0; i < g.length; i++) m.put(i, g[i]);
        return m;
    }

    @Test
    void createsAllGroupsAtOnceWhenNoneExist() {
        var plan = GroupRollout.plan(3, 1, 0, "new", Map.of(), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, UPDATE), Map.entry(1, UPDATE), Map.entry(2, UPDATE));
    }

    @Test
    void drainsOneReadyGroupAtATimeWithMaxUnavailableOne() {
        var plan = GroupRollout.plan(3, 1, 0, "new", groups(ready("old"), ready("old"), ready("old")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, DRAIN), Map.entry(1, KEEP), Map.entry(2, KEEP));
    }

    @Test
    void startsTheDrainedGroupAtTheNewRevisionOnceItsPodsAreGone() {
        var drained = new GroupObservation("old", 4, 0, 0, 0, Optional.empty());
        var plan = GroupRollout.plan(3, 1, 0, "new", groups(drained, ready("old"), ready("old")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, UPDATE), Map.entry(1, KEEP), Map.entry(2, KEEP));
    }

    /**
     * A group whose StatefulSet is already at the new revision while some of its pods still run the
     * old one (OnDelete keeps them; e.g. an operator stopped between the two steps) is drained
     * before it starts: restarting only the missing shards would mix revisions in one group.
     */
    @Test
    void drainsAGroupWhosePodsStillRunAnotherRevision() {
        var mixed = new GroupObservation("new", 4, 2, 2, 4, Optional.empty());
        var plan = GroupRollout.plan(2, 1, 0, "new", groups(mixed, ready("new")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, DRAIN), Map.entry(1, UPDATE));

        var staleGone = new GroupObservation("new", 4, 2, 0, 2, Optional.empty());
        plan = GroupRollout.plan(2, 1, 0, "new", groups(staleGone, ready("new")), true);
        assertThat(plan.actions()).as("no stale pod left: start the missing shards").containsEntry(0, UPDATE);
    }

    @Test
    void nextGroupWaitsUntilTheUpdatedOneIsServingReady() {
        var plan = GroupRollout.plan(3, 1, 0, "new", groups(starting("new"), ready("old"), ready("old")), true);
        assertThat(plan.actions()).containsEntry(1, KEEP).containsEntry(2, KEEP);
        plan = GroupRollout.plan(3, 1, 0, "new", groups(ready("new"), ready("old"), ready("old")), true);
        assertThat(plan.actions()).containsEntry(1, DRAIN).containsEntry(2, KEEP);
    }

    @Test
    void surgeGroupComesFirstAndNoGroupGoesDownWithMaxUnavailableZero() {
        var plan = GroupRollout.plan(2, 0, 1, "new", groups(ready("old"), ready("old")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, KEEP), Map.entry(1, KEEP), Map.entry(2, UPDATE));
        plan = GroupRollout.plan(2, 0, 1, "new", groups(ready("old"), ready("old"), ready("new")), true);
        assertThat(plan.actions()).containsEntry(0, DRAIN).containsEntry(1, KEEP).containsEntry(2, UPDATE);
        plan = GroupRollout.plan(2, 0, 1, "new", groups(ready("new"), ready("new"), ready("new")), true);
        assertThat(plan.actions()).as("surge group removed at the end").containsOnlyKeys(0, 1);
    }

    @Test
    void failingUpdatedGroupStopsTheRollout() {
        var crashing = new GroupObservation("new", 4, 0, 0, 4, Optional.of(new GroupFailure("CrashLoop", "pod x: CrashLoopBackOff")));
        var plan = GroupRollout.plan(3, 2, 0, "new", groups(crashing, ready("old"), ready("old")), true);
        assertThat(plan.stalledBy()).contains(0);
        assertThat(plan.actions()).containsEntry(1, KEEP).containsEntry(2, KEEP);
    }

    @Test
    void scaleDownDropsTheHighestGroups() {
        var plan = GroupRollout.plan(1, 1, 0, "r", groups(ready("r"), ready("r"), ready("r")), true);
        assertThat(plan.actions()).containsOnlyKeys(0);
    }

    @Test
    void modelThatDoesNotFitCreatesNoGroups() {
        var plan = GroupRollout.plan(2, 1, 0, "r", Map.of(), false);
        assertThat(plan.actions()).isEmpty();
        assertThat(plan.capacityHeld()).isTrue();
    }

    @Test
    void surgeGroupStaysWhileACurrentGroupIsNotReady() {
        var plan = GroupRollout.plan(2, 0, 1, "new", groups(starting("new"), ready("new"), ready("new")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, UPDATE), Map.entry(1, UPDATE), Map.entry(2, UPDATE));
        assertThat(plan.surgeGroups()).isEqualTo(1);
    }

    @Test
    void surgeGroupGoesOnceTheCurrentGroupsAreReadyEvenIfItIsNot() {
        var plan = GroupRollout.plan(2, 0, 1, "new", groups(ready("new"), ready("new"), starting("new")), true);
        assertThat(plan.actions()).containsOnlyKeys(0, 1);
        assertThat(plan.surgeGroups()).isZero();
    }

    @Test
    void anOldGroupAboveReplicasIsDeletedWithoutStartingASurge() {
        // scaled from 3 to 2 while group 2 still ran the old revision: nothing is rolling below replicas
        var plan = GroupRollout.plan(2, 1, 1, "new", groups(ready("new"), ready("new"), ready("old")), true);
        assertThat(plan.actions()).containsExactly(Map.entry(0, UPDATE), Map.entry(1, UPDATE));
        assertThat(plan.surgeGroups()).isZero();
    }

    @Test
    void groupsAboveTheTargetNeitherStallTheRolloutNorCountAsAvailable() {
        var failing = new GroupObservation("new", 4, 0, 0, 4, Optional.of(new GroupFailure("CrashLoop", "pod x: CrashLoopBackOff")));
        var plan = GroupRollout.plan(2, 1, 0, "new", groups(ready("old"), ready("old"), failing), true);
        assertThat(plan.stalledBy()).as("group 2 is being deleted").isEmpty();
        assertThat(plan.actions()).containsExactly(Map.entry(0, DRAIN), Map.entry(1, KEEP));

        plan = GroupRollout.plan(2, 0, 0, "new", groups(ready("old"), ready("old"), ready("new")), true);
        assertThat(plan.actions()).as("group 2 is being deleted: it does not cover for group 0")
                .containsExactly(Map.entry(0, KEEP), Map.entry(1, KEEP));
    }

    @Test
    void updatingMeansChosenForTheNewRevision() {
        var plan = GroupRollout.plan(3, 1, 0, "new", groups(ready("old"), ready("old"), starting("old")), true);
        // the group not serving is updated for free; a ready one would take capacity below 3 - 1
        assertThat(plan.actions()).containsExactly(Map.entry(0, KEEP), Map.entry(1, KEEP), Map.entry(2, DRAIN));
        assertThat(plan.updating(2)).as("DRAIN").isTrue();
        assertThat(plan.updating(0)).as("KEEP").isFalse();
        assertThat(plan.updating(3)).as("not in the plan").isFalse();
        var drained = new GroupObservation("old", 4, 0, 0, 0, Optional.empty());
        assertThat(GroupRollout.plan(1, 1, 0, "new", groups(drained), true).updating(0)).as("UPDATE").isTrue();
    }

    @Test
    void aGroupWithoutShardsIsNeverReady() {
        assertThat(new GroupObservation("r", 0, 0, 0, 0, Optional.empty()).ready()).isFalse();
        assertThat(new GroupObservation("r", 4, 4, 1, 5, Optional.empty()).ready()).as("a stale pod left").isFalse();
        assertThat(ready("r").ready()).isTrue();
    }
}
