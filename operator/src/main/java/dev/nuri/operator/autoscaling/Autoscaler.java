package dev.nuri.operator.autoscaling;

import dev.nuri.operator.api.v1alpha1.AutoscalingSpec;
import dev.nuri.operator.api.v1alpha1.AutoscalingStatus;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.autoscaling.ScalingDecision.Decision;
import dev.nuri.operator.autoscaling.ScalingDecision.Recommendation;
import dev.nuri.operator.autoscaling.ScalingDecision.Target;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.shard.ShardLabels;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.EventSourceBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.autoscaling.v1.Scale;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in autoscaler's side effects around {@link ScalingDecision}: every {@code interval} it
 * reads the shards of the groups that serve, decides, writes spec.replicas through the scale
 * subresource (as {@code kubectl scale} does, so the two never fight over a field) and records an
 * Event. The reconciler calls it on each pass and publishes the returned status.
 */
public final class Autoscaler {

    private static final Logger LOG = LoggerFactory.getLogger(Autoscaler.class);
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(15);
    /** The window latency percentiles are taken over. */
    public static final Duration LATENCY_WINDOW = Duration.ofSeconds(60);

    private final ShardMetricsSource pods;
    private final ShardMetricsSource prometheus;
    private final Duration interval;
    private final Clock clock;
    private final Map<ResourceID, State> states = new ConcurrentHashMap<>();

    private static final class State {
        Instant lastEvaluation = Instant.MIN;
        List<Recommendation> history = List.of();
        final MetricWindow window = new MetricWindow(LATENCY_WINDOW);
        String lastScaleTime;
        AutoscalingStatus status;
    }

    public Autoscaler(ShardMetricsSource pods, ShardMetricsSource prometheus, Duration interval, Clock clock) {
        this.pods = pods;
        this.prometheus = prometheus;
        this.interval = interval;
        this.clock = clock;
    }

    public static Autoscaler standard(Duration interval) {
        return new Autoscaler(new PodMetricsScraper(), new PrometheusMetricsSource(), interval, Clock.systemUTC());
    }

    /** The shard pods' metrics, read directly (GroupDrain uses them too). */
    public ShardMetricsSource shardMetrics() {
        return pods;
    }

    public Duration interval() {
        return interval;
    }

    /**
     * How long until the next decision is due. The reconciler reschedules with this, not with the whole interval: a
     * reconcile for another reason (a pod's status) in between replaces the pending one, and waiting a full interval
     * from there pushed decisions up to twice the interval apart.
     */
    public Duration untilNextEvaluation(ModelDeployment md) {
        State state = states.get(ResourceID.fromResource(md));
        if (state == null || state.lastEvaluation.equals(Instant.MIN)) return interval; // not deciding yet (or ever)
        Duration left = Duration.between(clock.instant(), state.lastEvaluation.plus(interval));
        return left.compareTo(MIN_RESCHEDULE) < 0 ? MIN_RESCHEDULE : left;
    }

    /** The JOSDK timer wants a positive delay; a decision due now runs on the reconcile right after. */
    private static final Duration MIN_RESCHEDULE = Duration.ofMillis(100);

    /**
     * Decides when the interval has passed since the last decision; otherwise returns the last status.
     *
     * @return status.autoscaling; null when the autoscaler is off for this deployment
     */
    public AutoscalingStatus evaluate(ModelDeployment md, Map<Integer, GroupObservation> groups, Collection<Pod> shardPods,
                                      KubernetesClient client) {
        ResourceID id = ResourceID.fromResource(md);
        AutoscalingSpec spec = md.getSpec().autoscaling();
        if (!spec.enabled()) {
            states.remove(id);
            return null;
        }
        State state = states.computeIfAbsent(id, k -> {
            State fresh = new State();
            if (md.getStatus() != null && md.getStatus().autoscaling != null) { // survives an operator restart
                fresh.lastScaleTime = md.getStatus().autoscaling.lastScaleTime;
            }
            return fresh;
        });
        Instant now = clock.instant();
        if (now.isBefore(state.lastEvaluation.plus(interval))) {
            return state.status;
        }
        state.lastEvaluation = now;

        int replicas = md.getSpec().replicas();
        Set<Integer> ready = new HashSet<>();
        groups.forEach((i, g) -> {
            if (i < replicas && g.ready()) ready.add(i);
        });
        List<Pod> serving = shardPods.stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null)
                .filter(p -> ready.contains(groupOf(p))).toList();
        ShardMetricsSource source = spec.prometheus != null ? prometheus : pods;
        Map<String, ShardReading> readings = source.read(md, serving);
        Set<String> alive = new HashSet<>();
        shardPods.forEach(p -> alive.add(key(p)));
        state.window.retain(alive);
        List<String> measuredShards = new ArrayList<>();
        int measured = 0;
        for (int group : ready) {
            List<Pod> members = serving.stream().filter(p -> groupOf(p) == group).toList();
            boolean all = !members.isEmpty() && members.stream().allMatch(p -> readings.containsKey(p.getMetadata().getName()));
            members.forEach(p -> {
                ShardReading r = readings.get(p.getMetadata().getName());
                if (r != null) state.window.record(now, key(p), r);
            });
            if (all) {
                measured++;
                members.forEach(p -> measuredShards.add(key(p)));
            }
        }

        var policy = new ScalingDecision.Policy(spec.minReplicas(), spec.maxReplicas,
                Duration.ofSeconds(spec.scaleUpStabilizationSeconds()), Duration.ofSeconds(spec.scaleDownStabilizationSeconds()));
        var observation = new ScalingDecision.Observation(now, replicas, ready.size(), measured,
                state.window.measure(goals(spec), measuredShards, measured));
        Decision decision = ScalingDecision.decide(policy, observation, state.history);
        state.history = decision.history();

        if (decision.desired() != replicas && scale(md, decision, client)) {
            state.lastScaleTime = now.toString();
        }
        state.status = status(decision, state.lastScaleTime, source.describe(md), measured);
        return state.status;
    }

    /** Forgets deployments that are gone. */
    public void retain(Set<ResourceID> deployments) {
        states.keySet().retainAll(deployments);
    }

    private static Map<Target, Double> goals(AutoscalingSpec spec) {
        Map<Target, Double> goals = new EnumMap<>(Target.class);
        var t = spec.targets;
        if (t == null) return goals;
        if (t.queueLength != null) goals.put(Target.QUEUE_LENGTH, t.queueLength.doubleValue());
        if (t.kvCacheUsagePercent != null) goals.put(Target.KV_CACHE_USAGE, t.kvCacheUsagePercent.doubleValue());
        if (t.timeToFirstTokenMillis != null) goals.put(Target.TIME_TO_FIRST_TOKEN, t.timeToFirstTokenMillis.doubleValue());
        if (t.interTokenLatencyMillis != null) goals.put(Target.INTER_TOKEN_LATENCY, t.interTokenLatencyMillis.doubleValue());
        return goals;
    }

    /** Writes spec.replicas through the scale subresource; a conflict (someone scaled meanwhile) waits for the next interval. */
    private static boolean scale(ModelDeployment md, Decision decision, KubernetesClient client) {
        var resource = client.resources(ModelDeployment.class).inNamespace(md.getMetadata().getNamespace())
                .withName(md.getMetadata().getName());
        int from = md.getSpec().replicas();
        try {
            Scale scale = resource.scale();
            if (scale == null || scale.getSpec() == null || !Objects.equals(scale.getSpec().getReplicas(), from)) {
                return false; // spec.replicas moved since this reconcile read it: decide again on fresh state
            }
            scale.getSpec().setReplicas(decision.desired());
            resource.scale(scale);
        } catch (KubernetesClientException e) {
            LOG.info("{}/{}: scale to {} not written ({}); deciding again next interval", md.getMetadata().getNamespace(),
                    md.getMetadata().getName(), decision.desired(), e.getMessage());
            return false;
        }
        String reason = decision.desired() > from ? "ScaledUp" : "ScaledDown";
        String message = "groups " + from + " -> " + decision.desired() + ": " + decision.reason();
        LOG.info("{}/{}: {}", md.getMetadata().getNamespace(), md.getMetadata().getName(), message);
        try {
            client.v1().events().inNamespace(md.getMetadata().getNamespace()).resource(new EventBuilder()
                    .withNewMetadata().withName(md.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 8))
                    .endMetadata()
                    .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(md.getApiVersion()).withKind(md.getKind())
                            .withName(md.getMetadata().getName()).withNamespace(md.getMetadata().getNamespace())
                            .withUid(md.getMetadata().getUid()).build())
                    .withType("Normal").withReason(reason).withMessage(message)
                    .withReportingComponent("nuri-operator")
                    .withSource(new EventSourceBuilder().withComponent("nuri-operator").build())
                    .withFirstTimestamp(Instant.now().toString()).withLastTimestamp(Instant.now().toString()).withCount(1)
                    .build()).create();
        } catch (RuntimeException e) {
            LOG.warn("could not record event {} for {}: {}", reason, md.getMetadata().getName(), e.getMessage());
        }
        return true;
    }

    private static AutoscalingStatus status(Decision d, String lastScaleTime, String source, int measured) {
        AutoscalingStatus s = new AutoscalingStatus();
        s.desiredReplicas = d.desired();
        s.recommendedReplicas = d.recommended();
        s.measuredGroups = measured;
        s.lastScaleTime = lastScaleTime;
        s.source = source;
        s.decidingTarget = d.deciding().map(t -> t.field).orElse(null);
        s.message = d.reason();
        s.targets = d.verdicts().stream().map(v -> {
            var t = new AutoscalingStatus.TargetStatus();
            t.name = v.measurement().target().field;
            t.target = ScalingDecision.format(v.measurement().goal());
            v.measurement().value().ifPresent(x -> t.current = ScalingDecision.format(x));
            v.groups().ifPresent(g -> t.desiredReplicas = g);
            return t;
        }).toList();
        return s;
    }

    private static int groupOf(Pod p) {
        String g = p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(ShardLabels.GROUP);
        try {
            return g == null ? -1 : Integer.parseInt(g);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A pod's uid: a recreated shard (same name) starts new counters. */
    private static String key(Pod p) {
        return p.getMetadata().getUid() != null ? p.getMetadata().getUid() : p.getMetadata().getName();
    }
}
