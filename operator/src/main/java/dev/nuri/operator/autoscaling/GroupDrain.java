package dev.nuri.operator.autoscaling;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.rollout.GroupRollout;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.shard.ShardPodTemplate;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes a group without failing a request in flight on it. Deleting its StatefulSet at once would
 * SIGTERM every shard together: a shard with nothing of its own to finish exits, and the requests
 * still running on its peers lose its experts. So, for each group the plan leaves out, and each group
 * a rollout stops to start it at the new revision (action DRAIN):
 * <ol>
 *   <li>its pods get {@code serving.nuri.dev/traffic=off}: the client Service stops sending them new
 *       requests (the pods stay ready, and peers of each other);</li>
 *   <li>after {@link #SETTLE} (kube-proxy applying the new endpoints) the operator reads each shard's
 *       running and waiting requests, and keeps the group while any is left, for at most the drain
 *       time the workers are given on SIGTERM;</li>
 *   <li>then the StatefulSet goes. A shard whose metrics do not answer counts as done: nothing of it
 *       could be saved by waiting.</li>
 * </ol>
 */
public final class GroupDrain {

    private static final Logger LOG = LoggerFactory.getLogger(GroupDrain.class);
    /** Time for the endpoint change to reach every node's proxy before idleness is believed. */
    public static final Duration SETTLE = Duration.ofSeconds(3);
    /** As long as a worker would drain after SIGTERM. */
    public static final Duration MAX_DRAIN = Duration.ofSeconds(ShardPodTemplate.TERMINATION_GRACE_SECONDS - 15);
    public static final Duration POLL = Duration.ofSeconds(1);

    private final ShardMetricsSource shards;
    private final Clock clock;
    private final Map<String, Instant> since = new ConcurrentHashMap<>();

    public GroupDrain(ShardMetricsSource shards, Clock clock) {
        this.shards = shards;
        this.clock = clock;
    }

    /** The groups left out of the plan or drained by it that must stay as they are for now; their pods are taken out of the client Service. */
    public Set<Integer> stillDraining(ModelDeployment md, GroupRollout.Plan plan, Collection<StatefulSet> statefulSets,
                                      Collection<Pod> pods, KubernetesClient client) {
        Set<Integer> draining = new TreeSet<>();
        String deployment = md.getMetadata().getNamespace() + "/" + md.getMetadata().getName();
        String prefix = deployment + "/";
        for (StatefulSet sts : statefulSets) {
            int group = ShardNames.groupIndex(md, sts.getMetadata().getName());
            GroupRollout.Action action = plan.actions().get(group);
            boolean leaving = action == null || action == GroupRollout.Action.DRAIN; // removed, or stopped for a new revision
            if (group < 0 || !leaving || sts.getMetadata().getDeletionTimestamp() != null) continue;
            List<Pod> members = pods.stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null)
                    .filter(p -> Integer.toString(group).equals(p.getMetadata().getLabels().get(ShardLabels.GROUP))).toList();
            if (members.isEmpty()) continue;
            members.stream().filter(p -> !ShardLabels.TRAFFIC_OFF.equals(p.getMetadata().getLabels().get(ShardLabels.TRAFFIC)))
                    .forEach(p -> takeOutOfService(p, client));
            Instant start = since.computeIfAbsent(prefix + group, k -> { // once its pods are out of the Service
                LOG.info("{}: {} group {}: no new requests; waiting for the ones in flight", deployment,
                        action == null ? "removing" : "stopping for a new revision", group);
                return clock.instant();
            });
            Instant now = clock.instant();
            if (now.isBefore(start.plus(SETTLE))) {
                draining.add(group);
                continue;
            }
            if (now.isAfter(start.plus(MAX_DRAIN))) {
                LOG.warn("{}: group {} still had requests after {}; removing it anyway", deployment, group, MAX_DRAIN);
                continue;
            }
            double left = shards.read(md, members).values().stream().mapToDouble(r -> r.running() + r.waiting()).sum();
            if (left > 0) {
                draining.add(group);
            } else {
                LOG.info("{}: group {} has no request left; {}", deployment, group, action == null ? "removing it" : "stopping it");
            }
        }
        since.keySet().removeIf(k -> k.startsWith(prefix) && !draining.contains(Integer.parseInt(k.substring(prefix.length()))));
        return draining;
    }

    private static void takeOutOfService(Pod pod, KubernetesClient client) {
        try {
            client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
                    .patch(PatchContext.of(PatchType.JSON_MERGE),
                            "{\"metadata\":{\"labels\":{\"" + ShardLabels.TRAFFIC + "\":\"" + ShardLabels.TRAFFIC_OFF + "\"}}}");
        } catch (KubernetesClientException e) {
            LOG.info("pod {}: not taken out of the Service yet ({}); next pass", pod.getMetadata().getName(), e.getMessage());
        }
    }
}
