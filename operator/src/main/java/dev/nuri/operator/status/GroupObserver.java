package dev.nuri.operator.status;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupObservation.GroupFailure;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.shard.ShardPodTemplate;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
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
        Optional<GroupFailure> fetch = Optional.ofNullable(pod.getStatus().getInitContainerStatuses()).stream()
                .flatMap(List::stream).filter(c -> ShardPodTemplate.FETCH_CONTAINER.equals(c.getName()))
                .map(GroupObserver::lastFailure).flatMap(Optional::stream).findFirst()
                .map(t -> new GroupFailure("ModelFetchFailed", "pod " + pod.getMetadata().getName()
                        + ": the model download failed: " + message(t)));
        if (fetch.isPresent()) {
            return fetch;
        }
        return Stream.concat(
                        Optional.ofNullable(pod.getStatus().getInitContainerStatuses()).stream().flatMap(List::stream),
                        Optional.ofNullable(pod.getStatus().getContainerStatuses()).stream().flatMap(List::stream))
                .filter(c -> c.getState() != null && c.getState().getWaiting() != null
                        && FAILING.contains(c.getState().getWaiting().getReason()))
                .map(c -> {
                    ContainerStateWaiting w = c.getState().getWaiting();
                    return new GroupFailure(reason(w.getReason()), "pod " + pod.getMetadata().getName()
                            + ": " + w.getReason() + (w.getMessage() == null ? "" : ": " + w.getMessage())
                            + lastFailure(c).map(t -> "; last exit " + t.getExitCode() + ": " + message(t)).orElse(""));
                })
                .findFirst();
    }

    /** The container's failed exit: now, or the one before its restart back-off. */
    private static Optional<ContainerStateTerminated> lastFailure(ContainerStatus c) {
        return Stream.of(c.getState(), c.getLastState())
                .filter(s -> s != null && s.getTerminated() != null && s.getTerminated().getExitCode() != null
                        && s.getTerminated().getExitCode() != 0)
                .map(ContainerState::getTerminated).findFirst();
    }

    /** The termination message (the worker writes why it stopped; otherwise the log's tail), kept short. */
    private static String message(ContainerStateTerminated t) {
        String m = t.getMessage() == null || t.getMessage().isBlank()
                ? "exit code " + t.getExitCode() + (t.getReason() == null ? "" : " (" + t.getReason() + ")")
                : t.getMessage().strip();
        return m.length() <= MESSAGE_LIMIT ? m : "..." + m.substring(m.length() - MESSAGE_LIMIT);
    }

    /** Conditions are read in kubectl and events; the kubelet keeps up to 4 KiB. */
    private static final int MESSAGE_LIMIT = 600;

    private static String reason(String waiting) {
        return switch (waiting) {
            case "CrashLoopBackOff", "RunContainerError" -> "CrashLoop";
            case "ErrImagePull", "ImagePullBackOff", "InvalidImageName" -> "ImagePullFailed";
            default -> "ContainerConfigError";
        };
    }
}
