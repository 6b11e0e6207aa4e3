package dev.nuri.operator.rollout;

import java.util.ArrayList;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Decides, from what exists, which groups run which revision. A group changes revision only as a
 * whole: once chosen it is drained to zero pods, and only then started at the new revision, so no
 * pod of the new revision ever runs beside one of the old in the same group. Groups are chosen while at least {@code replicas - maxUnavailable}
 * groups stay serving-ready; {@code maxSurge} extra groups at the new revision are added first when
 * asked, and removed when every group runs the new revision and is ready. A group that fails at the
 * new revision stops the rollout.
 */
public final class GroupRollout {

    /** What to do with one group index. */
    public enum Action {
        /** Create or update the group's StatefulSet at the new revision, all shards. */
        UPDATE,
        /** Chosen, but pods of another revision still exist: scale the group to zero first. */
        DRAIN,
        /** Leave the group's StatefulSet as it is (old revision, not chosen yet). */
        KEEP
    }

    /**
     * @param actions      every group index that should exist, and what to do with it; others are deleted
     * @param surgeGroups  extra groups above replicas in this plan
     * @param stalledBy    the group whose failure stopped the rollout, if any
     * @param capacityHeld true when new groups were held back because the model does not fit
     */
    public record Plan(Map<Integer, Action> actions, int surgeGroups, Optional<Integer> stalledBy, boolean capacityHeld) {

        public boolean updating(int group) {
            return actions.get(group) == Action.UPDATE || actions.get(group) == Action.DRAIN;
        }
    }

    private GroupRollout() {}

    public static Plan plan(int replicas, int maxUnavailable, int maxSurge, String updateRevision,
                            Map<Integer, GroupObservation> existing, boolean capacityFits) {
        TreeSet<Integer> old = new TreeSet<>();
        existing.forEach((i, g) -> {
            if (!g.revision().equals(updateRevision)) old.add(i);
        });
        boolean currentGroupsReady = true;
        for (int i = 0; i < replicas; i++) {
            GroupObservation g = existing.get(i);
            currentGroupsReady &= g != null && g.revision().equals(updateRevision) && g.ready();
        }
        long existingSurge = existing.keySet().stream().filter(i -> i >= replicas && i < replicas + maxSurge).count();
        boolean rolling = old.stream().anyMatch(i -> i < replicas);
        int surge = rolling ? maxSurge : currentGroupsReady ? 0 : (int) existingSurge;
        int target = replicas + surge;
        old.removeIf(i -> i >= target);

        // Only a rollout can stall: a failing first start is reported as the failure itself.
        Optional<Integer> stalledBy = old.isEmpty() ? Optional.empty() : existing.entrySet().stream()
                .filter(e -> e.getKey() < target && e.getValue().revision().equals(updateRevision)
                        && e.getValue().failure().isPresent())
                .map(Map.Entry::getKey).findFirst();

        Map<Integer, Action> actions = new TreeMap<>();
        boolean capacityHeld = false;
        for (int i = 0; i < target; i++) {
            if (existing.containsKey(i)) {
                actions.put(i, old.contains(i) ? Action.KEEP : Action.UPDATE);
            } else if (capacityFits) {
                actions.put(i, Action.UPDATE);
            } else {
                capacityHeld = true;
            }
        }
        if (stalledBy.isEmpty() && capacityFits) {
            long available = existing.entrySet().stream()
                    .filter(e -> e.getKey() < target && e.getValue().ready()).count();
            int minAvailable = replicas - maxUnavailable;
            for (int i : new ArrayList<>(old)) {
                boolean ready = existing.get(i).ready();
                if (!ready) {
                    actions.put(i, Action.UPDATE); // already out of service: updating it costs nothing
                } else if (available - 1 >= minAvailable) {
                    actions.put(i, Action.UPDATE);
                    available--;
                }
            }
        }
        // A group moves only from zero pods: drain first while any pod of another revision exists.
        actions.replaceAll((i, action) -> {
            GroupObservation g = existing.get(i);
            boolean mixed = g != null && (!g.revision().equals(updateRevision) || g.staleShards() > 0) && g.pods() > 0;
            return action == Action.UPDATE && mixed ? Action.DRAIN : action;
        });
        return new Plan(actions, surge, stalledBy, capacityHeld);
    }
}
