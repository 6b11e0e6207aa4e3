package dev.nuri.operator.status;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus.GroupStatus;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupRollout;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Turns what the operator observed into conditions a user can act on. A condition keeps its
 * lastTransitionTime while its status is unchanged, so an unchanged world gives an identical
 * status and the operator writes nothing.
 */
public final class StatusAggregator {

    /** A problem found before any group was looked at (model source, capacity). */
    public record Blocker(String reason, String message) {}

    private StatusAggregator() {}

    public static ModelDeploymentStatus aggregate(ModelDeployment md, String updateRevision, GroupRollout.Plan plan,
                                                  Map<Integer, GroupObservation> groups, Optional<Blocker> blocker,
                                                  ModelDeploymentStatus.PlacementStatus placement,
                                                  ModelDeploymentStatus.CapacityStatus capacity, String selector,
                                                  String endpoint) {
        int desired = md.getSpec().replicas();
        ModelDeploymentStatus status = new ModelDeploymentStatus();
        status.observedGeneration = md.getMetadata().getGeneration();
        status.replicas = groups.size();
        int ready = (int) groups.values().stream().filter(GroupObservation::ready).count();
        int readyCurrent = (int) groups.entrySet().stream()
                .filter(e -> e.getKey() < desired && e.getValue().ready() && e.getValue().revision().equals(updateRevision))
                .count();
        status.readyReplicas = ready;
        status.updatedReplicas = (int) groups.values().stream().filter(g -> g.revision().equals(updateRevision)).count();
        status.readyGroups = Math.min(ready, desired) + "/" + desired;
        status.selector = selector;
        status.updateRevision = updateRevision;
        status.placement = placement;
        status.capacity = capacity;
        status.endpoint = endpoint;
        List<GroupStatus> before = md.getStatus() == null || md.getStatus().groups == null ? List.of() : md.getStatus().groups;
        status.groups = groupStatuses(groups, plan, updateRevision, before);

        List<Condition> previous = md.getStatus() == null ? List.of() : md.getStatus().conditions;
        long generation = md.getMetadata().getGeneration();
        boolean complete = readyCurrent == desired && groups.size() == desired;
        // Ready means serving at the capacity the rollout settings promise, as a Deployment's
        // Available does: groups of any revision count, so a rollout that keeps enough groups
        // serving never turns it False; Progressing tells the rollout.
        int maxUnavailable = md.getSpec().rollout().maxUnavailableGroups();
        int required = desired == 0 ? 0 : Math.max(1, desired - maxUnavailable);
        int serving = (int) groups.entrySet().stream()
                .filter(e -> e.getValue().ready() && plan.actions().containsKey(e.getKey())
                        && plan.actions().get(e.getKey()) != GroupRollout.Action.DRAIN)
                .count();
        boolean servingEnough = desired == 0 ? groups.isEmpty() : serving >= required;

        Optional<Blocker> degraded = blocker.or(() -> plan.stalledBy().map(g -> new Blocker("RolloutStalled",
                "rollout stopped at group " + g + ": " + groups.get(g).failure().orElseThrow().message())))
                .or(() -> groups.entrySet().stream().filter(e -> e.getValue().failure().isPresent()).findFirst()
                        .map(e -> new Blocker(e.getValue().failure().get().reason(),
                                "group " + e.getKey() + ": " + e.getValue().failure().get().message())))
                .or(() -> status.groups.stream().filter(g -> RECOVERING.equals(g.state)).findFirst()
                        .map(g -> new Blocker("ShardLost", "group " + g.index + ": " + g.message)));
        String readyReason = !servingEnough ? "GroupsNotReady"
                : desired == 0 ? "ScaledToZero" : complete ? "AllGroupsReady" : "MinimumGroupsServing";
        String readyMessage = complete || desired == 0
                ? readyCurrent + " of " + desired + " groups serving-ready at revision " + updateRevision
                : serving + " of " + desired + " groups serving (" + readyCurrent + " at revision " + updateRevision
                        + "); at least " + required + " must serve (maxUnavailableGroups " + maxUnavailable + ")";
        status.conditions.add(condition(previous, ModelDeploymentStatus.READY, servingEnough, readyReason, readyMessage, generation));
        status.conditions.add(condition(previous, ModelDeploymentStatus.PROGRESSING, !complete,
                progressReason(desired, groups, updateRevision), progressMessage(desired, groups, plan, updateRevision),
                generation));
        status.conditions.add(condition(previous, ModelDeploymentStatus.DEGRADED, degraded.isPresent(),
                degraded.map(Blocker::reason).orElse("AsExpected"), degraded.map(Blocker::message).orElse(""), generation));
        return status;
    }

    /**
     * A group that served and lost a shard (a pod deleted, evicted, crashed): its requests fail with
     * 503 until the StatefulSet has the shard back. Only a group at an unchanged revision that is
     * not being rolled counts; a rollout's drain is expected, not degraded.
     */
    static final String RECOVERING = "Recovering";
    static final String UNSCHEDULABLE = "Unschedulable";

    private static List<GroupStatus> groupStatuses(Map<Integer, GroupObservation> groups, GroupRollout.Plan plan,
                                                   String updateRevision, List<GroupStatus> before) {
        List<GroupStatus> out = new ArrayList<>();
        groups.forEach((i, g) -> {
            Optional<GroupStatus> was = before.stream().filter(b -> i.equals(b.index)).findFirst();
            boolean served = was.filter(b -> g.revision().equals(b.revision)
                    && ("Ready".equals(b.state) || "Outdated".equals(b.state) || RECOVERING.equals(b.state))).isPresent();
            GroupStatus s = new GroupStatus();
            s.index = i;
            s.revision = g.revision();
            s.shards = g.shards();
            s.readyShards = g.readyShards();
            if (!plan.actions().containsKey(i)) {
                s.state = "Draining";
            } else if (g.failure().filter(f -> UNSCHEDULABLE.equals(f.reason())).isPresent()) {
                // waiting for room (nodes, devices): nothing failed, and it starts once room appears
                s.state = "Pending";
                s.message = g.failure().get().message();
            } else if (g.failure().isPresent()) {
                s.state = "Failed";
                s.message = g.failure().get().message();
            } else if (g.ready() && g.revision().equals(updateRevision)) {
                s.state = "Ready";
            } else if (g.ready()) {
                s.state = "Outdated";
                s.message = "waiting for its turn to move to revision " + updateRevision;
            } else if (served && plan.actions().get(i) != GroupRollout.Action.DRAIN && g.staleShards() == 0) {
                s.state = RECOVERING;
                s.message = g.readyShards() + " of " + g.shards() + " shards ready; it served before and answers 503 "
                        + "until the missing shards are back";
            } else if (plan.actions().get(i) == GroupRollout.Action.DRAIN || !g.revision().equals(updateRevision)) {
                s.state = "Updating";
            } else {
                s.state = "Starting";
            }
            out.add(s);
        });
        return out;
    }

    private static String progressReason(int desired, Map<Integer, GroupObservation> groups, String updateRevision) {
        if (groups.values().stream().anyMatch(g -> !g.revision().equals(updateRevision) || g.staleShards() > 0)) {
            return "RollingOut";
        }
        if (groups.size() != desired) {
            return "Scaling";
        }
        return groups.values().stream().allMatch(GroupObservation::ready) ? "Complete" : "Starting";
    }

    private static String progressMessage(int desired, Map<Integer, GroupObservation> groups, GroupRollout.Plan plan,
                                          String updateRevision) {
        long updated = groups.values().stream().filter(g -> g.revision().equals(updateRevision) && g.staleShards() == 0).count();
        Optional<Integer> current = groups.entrySet().stream()
                .filter(e -> plan.updating(e.getKey()) && !e.getValue().ready()).map(Map.Entry::getKey).findFirst();
        return updated + "/" + groups.size() + " groups at revision " + updateRevision + ", " + desired + " desired"
                + current.map(g -> "; on group " + g).orElse("")
                + (plan.surgeGroups() > 0 ? "; " + plan.surgeGroups() + " surge group(s)" : "")
                + (plan.capacityHeld() ? "; new groups held back: the model does not fit" : "");
    }

    static Condition condition(List<Condition> previous, String type, boolean isTrue, String reason, String message,
                               long generation) {
        String status = isTrue ? "True" : "False";
        String since = previous.stream().filter(c -> type.equals(c.getType()) && status.equals(c.getStatus()))
                .map(Condition::getLastTransitionTime).filter(Objects::nonNull).findFirst()
                .orElse(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        return new ConditionBuilder().withType(type).withStatus(status).withReason(reason).withMessage(message)
                .withObservedGeneration(generation).withLastTransitionTime(since).build();
    }
}
