package dev.nuri.operator.rollout;

import java.util.Optional;

/**
 * What the operator sees of one existing group: the revision its StatefulSet template carries and
 * the state of its shard pods.
 *
 * @param revision       pod template revision of the group's StatefulSet
 * @param shards         pods the group should have
 * @param readyShards    pods Ready (serving-ready), not terminating, at the group's revision
 * @param staleShards    pods still running another revision than the StatefulSet's
 * @param pods           pods that exist, terminating ones included
 * @param failure        why the group cannot start (crash loop, image pull, unschedulable), if it cannot
 */
public record GroupObservation(String revision, int shards, int readyShards, int staleShards, int pods,
                               Optional<GroupFailure> failure) {

    public boolean ready() {
        return shards > 0 && readyShards == shards && staleShards == 0;
    }

    /** A reason a user can act on, with Kubernetes' own message. */
    public record GroupFailure(String reason, String message) {}
}
