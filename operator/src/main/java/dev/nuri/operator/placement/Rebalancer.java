package dev.nuri.operator.placement;

import dev.nuri.contract.ExpertLoad;
import dev.nuri.contract.GroupPlacementSwitch;
import dev.nuri.contract.LoadBalancedPlacement;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.api.v1alpha1.Architecture;
import dev.nuri.operator.api.v1alpha1.ExpertsSpec;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus.PlacementStatus;
import dev.nuri.operator.api.v1alpha1.Placement;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.shard.ShardLabels;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.EventSourceBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rebalancer's side effects around {@link RebalanceDecision}, for {@code placement: balanced}: every
 * {@code interval} it reads the expert-load window of every shard of the ready groups (their internal endpoint, with
 * the deployment's peer key, which the caller derives: the operator does not read Secrets), decides, switches every
 * ready group live ({@link GroupPlacementSwitch}: prepare on all, commit on all, release) and records an Event. The placement ConfigMap then carries the new placement
 * ({@link #placementFor}), so that a shard that restarts loads it.
 */
public final class Rebalancer {
    private static final Logger LOG = LoggerFactory.getLogger(Rebalancer.class);
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(30);

    private final BiFunction<ModelDeployment, Pod, Optional<URI>> endpoint;
    private final Duration interval;
    private final Clock clock;
    private final Map<ResourceID, State> states = new ConcurrentHashMap<>();

    private static final class State {
        Instant lastEvaluation = Instant.MIN;
        Instant lastRebalance;
        PlacementFile rebalanced;
        PlacementStatus status;
    }

    /** @param endpoint a shard pod's HTTP base URI (tests point KWOK pods, which run nothing, at worker processes) */
    public Rebalancer(BiFunction<ModelDeployment, Pod, Optional<URI>> endpoint, Duration interval, Clock clock) {
        this.endpoint = endpoint;
        this.interval = interval;
        this.clock = clock;
    }

    /** Reads http://podIP:spec.serving.port/v1/internal/... */
    public static Rebalancer standard(Duration interval) {
        return new Rebalancer((md, pod) -> Optional.ofNullable(pod.getStatus() == null ? null : pod.getStatus().getPodIP())
                .filter(ip -> !ip.isBlank())
                .map(ip -> URI.create("http://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + md.getSpec().serving().port())),
                interval, Clock.systemUTC());
    }

    public Duration interval() {
        return interval;
    }

    /** How long until the next decision is due (see Autoscaler#untilNextEvaluation: why not the whole interval). */
    public Duration untilNextEvaluation(ModelDeployment md) {
        State state = states.get(ResourceID.fromResource(md));
        if (state == null || state.lastEvaluation.equals(Instant.MIN)) return interval; // not deciding yet (or ever)
        Duration left = Duration.between(clock.instant(), state.lastEvaluation.plus(interval));
        return left.compareTo(MIN_RESCHEDULE) < 0 ? MIN_RESCHEDULE : left;
    }

    private static final Duration MIN_RESCHEDULE = Duration.ofMillis(100);

    /**
     * The placement the ConfigMap should carry for the update revision, when this deployment was rebalanced and its
     * shape still fits the spec; else empty (the configured layout).
     */
    public Optional<PlacementFile> placementFor(ModelDeployment md) {
        State state = states.get(ResourceID.fromResource(md));
        ExpertsSpec experts = md.getSpec().experts;
        if (state == null || state.rebalanced == null || experts.placement() != Placement.BALANCED) return Optional.empty();
        PlacementFile p = state.rebalanced;
        boolean fits = p.numExperts() == experts.total && p.shards() == experts.parallelism()
                && p.slots(p.layerSlots().firstKey())[0].length == experts.slotsPerShard();
        return fits ? Optional.of(p) : Optional.empty();
    }

    /**
     * Decides when the interval has passed; returns the placement status fields it owns (null when this deployment
     * is not rebalanced).
     *
     * @param current the placement the ConfigMap carries for the update revision
     */
    public PlacementStatus evaluate(ModelDeployment md, PlacementFile current, Map<Integer, GroupObservation> groups,
                                    Collection<Pod> shardPods, PeerKey key, KubernetesClient client) {
        ResourceID id = ResourceID.fromResource(md);
        ExpertsSpec experts = md.getSpec().experts;
        if (experts.placement() != Placement.BALANCED || !experts.rebalance().enabled() || experts.parallelism() < 2) {
            State s = states.get(id);
            return s == null ? null : s.status; // what the last rebalance did stays on record
        }
        State state = states.computeIfAbsent(id, k -> fromStatus(md));
        Instant now = clock.instant();
        if (now.isBefore(state.lastEvaluation.plus(interval))) return state.status;
        state.lastEvaluation = now;

        List<List<URI>> readyGroups = readyGroups(md, groups, shardPods);
        if (readyGroups.isEmpty()) return state.status;
        List<ExpertLoad> loads = new ArrayList<>();
        for (List<URI> group : readyGroups) {
            try {
                loads.addAll(new GroupPlacementSwitch(group, key, Duration.ofSeconds(5)).expertLoad());
            } catch (IOException | RuntimeException e) {
                LOG.info("{}/{}: expert load not read ({}); deciding again next interval", md.getMetadata().getNamespace(),
                        md.getMetadata().getName(), e.getMessage());
                return state.status;
            }
        }
        ExpertLoad load = ExpertLoad.sum(loads);
        var rebalance = experts.rebalance();
        var shape = new LoadBalancedPlacement.Shape(experts.total, experts.parallelism(), experts.redundant(), expertGroups(md),
                nodes(md, shardPods, experts.parallelism()));
        var decision = RebalanceDecision.decide(new RebalanceDecision.Policy(rebalance.minGain(),
                Duration.ofSeconds(rebalance.minIntervalSeconds()), rebalance.minTokens()),
                new RebalanceDecision.Observation(now, state.lastRebalance, current, load, shape));
        PlacementStatus status = state.status != null ? state.status : new PlacementStatus();
        status.generation = current.generation();
        if (decision.next() == null) {
            status.message = decision.reason();
            state.status = status;
            return status;
        }
        PlacementFile next = decision.next();
        for (int g = 0; g < readyGroups.size(); g++) {
            try {
                new GroupPlacementSwitch(readyGroups.get(g), key, Duration.ofSeconds(60)).switchTo(next);
            } catch (GroupPlacementSwitch.SwitchFailedException e) {
                status.message = "rebalance to generation " + next.generation() + " failed: " + e.getMessage();
                LOG.warn("{}/{}: {}", md.getMetadata().getNamespace(), md.getMetadata().getName(), status.message);
                event(md, client, "Warning", "RebalanceFailed", status.message);
                state.status = status;
                return status;
            }
        }
        state.rebalanced = next;
        state.lastRebalance = now;
        status.generation = next.generation();
        status.balancednessBefore = format(decision.before());
        status.balancednessAfter = format(decision.after());
        status.lastRebalanceTime = now.toString();
        status.message = "rebalanced " + readyGroups.size() + " group(s) to generation " + next.generation() + ": " + decision.reason();
        LOG.info("{}/{}: {}", md.getMetadata().getNamespace(), md.getMetadata().getName(), status.message);
        event(md, client, "Normal", "Rebalanced", status.message);
        state.status = status;
        return status;
    }

    /** Forgets deployments that are gone. */
    public void retain(Set<ResourceID> deployments) {
        states.keySet().retainAll(deployments);
    }

    /** After an operator restart: the last rebalance's time and figures, from status. */
    private static State fromStatus(ModelDeployment md) {
        State s = new State();
        if (md.getStatus() != null && md.getStatus().placement != null && md.getStatus().placement.lastRebalanceTime != null) {
            s.lastRebalance = Instant.parse(md.getStatus().placement.lastRebalanceTime);
            s.status = md.getStatus().placement;
        }
        return s;
    }

    private List<List<URI>> readyGroups(ModelDeployment md, Map<Integer, GroupObservation> groups, Collection<Pod> pods) {
        List<List<URI>> out = new ArrayList<>();
        for (var entry : groups.entrySet()) {
            if (!entry.getValue().ready()) continue;
            List<Pod> members = pods.stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null)
                    .filter(p -> String.valueOf(entry.getKey()).equals(p.getMetadata().getLabels().get(ShardLabels.GROUP)))
                    .sorted(Comparator.comparingInt(Rebalancer::ordinal)).toList();
            if (members.size() != md.getSpec().experts.parallelism()) continue;
            List<URI> uris = new ArrayList<>();
            for (Pod p : members) endpoint.apply(md, p).ifPresent(uris::add);
            if (uris.size() == members.size()) out.add(uris);
        }
        return out;
    }

    private static int ordinal(Pod p) {
        String name = p.getMetadata().getName();
        return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
    }

    /**
     * The nodes a group's shards span, when each node holds an equal, contiguous block of shard ordinals (the shape
     * the hierarchical policy assumes); otherwise 1, and the global policy places experts.
     */
    static int nodes(ModelDeployment md, Collection<Pod> pods, int shards) {
        List<String> nodeOfShard = pods.stream().filter(p -> "0".equals(p.getMetadata().getLabels().get(ShardLabels.GROUP)))
                .sorted(Comparator.comparingInt(Rebalancer::ordinal))
                .map(p -> p.getSpec() == null ? null : p.getSpec().getNodeName()).toList();
        if (nodeOfShard.size() != shards || nodeOfShard.contains(null)) return 1;
        int nodes = (int) nodeOfShard.stream().distinct().count();
        if (shards % nodes != 0) return 1;
        int block = shards / nodes;
        for (int s = 0; s < shards; s++) {
            if (!nodeOfShard.get(s).equals(nodeOfShard.get(s - s % block))) return 1;
        }
        return nodes;
    }

    /** The router's n_group: 8 for the DeepSeek-V3 family (A.X K1 included), none for the others. */
    static int expertGroups(ModelDeployment md) {
        Architecture a = md.getSpec().model == null ? null : md.getSpec().model.architecture;
        boolean grouped = a == Architecture.AXK1 || a == Architecture.DEEPSEEK_V3;
        return grouped && md.getSpec().experts.total % 8 == 0 ? 8 : 1;
    }


    private static String format(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private static void event(ModelDeployment md, KubernetesClient client, String type, String reason, String message) {
        try {
            client.v1().events().inNamespace(md.getMetadata().getNamespace()).resource(new EventBuilder()
                    .withNewMetadata().withName(md.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 8)).endMetadata()
                    .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(md.getApiVersion()).withKind(md.getKind())
                            .withName(md.getMetadata().getName()).withNamespace(md.getMetadata().getNamespace())
                            .withUid(md.getMetadata().getUid()).build())
                    .withType(type).withReason(reason).withMessage(message)
                    .withReportingComponent("nuri-operator")
                    .withSource(new EventSourceBuilder().withComponent("nuri-operator").build())
                    .withFirstTimestamp(Instant.now().toString()).withLastTimestamp(Instant.now().toString()).withCount(1)
                    .build()).create();
        } catch (RuntimeException e) {
            LOG.warn("could not record event {} for {}: {}", reason, md.getMetadata().getName(), e.getMessage());
        }
    }
}
