package dev.nuri.operator.status;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupObservation.GroupFailure;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Reads groups and their shard pods from the informer caches into {@link GroupObservation}s. */
public final class GroupObserver {

    /** Container waiting reasons that need the user, not time. */
    private static final Set<String> FAILING = Set.of("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff",
            "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError");

    private GroupObserver() {}

    public static Map<Integer, GroupObservation> observe(ModelDeployment md, Collection<StatefulSet> statefulSets,
                                                         Collection<Pod> pods) {
        Map<Integer, GroupObservation> groups = new TreeMap<>();
        for (StatefulSet sts : statefulSets) {
            int index = ShardNames.groupIndex(md, sts.getMetadata().getName());
            if (index < 0) continue;
            String revision = sts.getSpec().getTemplate().getMetadata().getLabels().getOrDefault(ShardLabels.REVISION, "");
            List<Pod> own = pods.stream()
                    .filter(p -> Integer.toString(index).equals(p.getMetadata().getLabels().get(ShardLabels.GROUP)))
                    .filter(p -> md.getMetadata().getName().equals(p.getMetadata().getLabels().get(ShardLabels.DEPLOYMENT)))
                    .toList();
            int ready = (int) own.stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null)
                    .filter(p -> revision.equals(p.getMetadata().getLabels().get(ShardLabels.REVISION)))
                    .filter(GroupObserver::isReady).count();
            int stale = (int) own.stream()
                    .filter(p -> !revision.equals(p.getMetadata().getLabels().get(ShardLabels.REVISION))).count();
            // shards counts what the group should have, even while it is drained to zero for an update
            int shards = md.getSpec().experts.parallelism();
            groups.put(index, new GroupObservation(revision, shards, ready, stale, own.size(),
                    own.stream().map(GroupObserver::failure).flatMap(Optional::stream).findFirst()));
        }
        return groups;
    }

    static boolean isReady(Pod pod) {
        return pod.getStatus() != null && pod.getStatus().getConditions() != null && pod.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    /** Why a pod cannot run, in the words Kubernetes used. */
    static Optional<GroupFailure> failure(Pod pod) {
        if (pod.getStatus() == null) return Optional.empty();
        Optional<PodCondition> unschedulable = Optional.ofNullable(pod.getStatus().getConditions()).stream()
                .flatMap(List::stream)
                .filter(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus())
                        && "Unschedulable".equals(c.getReason()))
                .findFirst();
        if (unschedulable.isPresent()) {
            return Optional.of(new GroupFailure("Unschedulable",
                    "pod " + pod.getMetadata().getName() + ": " + unschedulable.get().getMessage()));
        }
        return Stream.concat(
                        Optional.ofNullable(pod.getStatus().getInitContainerStatuses()).stream().flatMap(List::stream),
                        Optional.ofNullable(pod.getStatus().getContainerStatuses()).stream().flatMap(List::stream))
                .map(ContainerStatus::getState)
                .filter(s -> s != null && s.getWaiting() != null && FAILING.contains(s.getWaiting().getReason()))
                .map(s -> new GroupFailure(reason(s.getWaiting().getReason()), "pod " + pod.getMetadata().getName()
                        + ": " + s.getWaiting().getReason() + (s.getWaiting().getMessage() == null ? ""
                        : ": " + s.getWaiting().getMessage())))
                .findFirst();
    }

    private static String reason(String waiting) {
        return switch (waiting) {
            case "CrashLoopBackOff", "RunContainerError" -> "CrashLoop";
            case "ErrImagePull", "ImagePullBackOff", "InvalidImageName" -> "ImagePullFailed";
            default -> "ContainerConfigError";
        };
    }
}
