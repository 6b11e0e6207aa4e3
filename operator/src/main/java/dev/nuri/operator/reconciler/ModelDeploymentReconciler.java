package dev.nuri.operator.reconciler;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nuri.operator.api.v1alpha1.AutoscalingStatus;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.autoscaling.Autoscaler;
import dev.nuri.operator.autoscaling.GroupDrain;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.dependents.ApiService;
import dev.nuri.operator.dependents.DependentInputs;
import dev.nuri.operator.dependents.GroupDisruptionBudget;
import dev.nuri.operator.dependents.GroupStatefulSets;
import dev.nuri.operator.dependents.PeerKeySecret;
import dev.nuri.operator.dependents.PeerKeys;
import dev.nuri.operator.dependents.PeerNetworkPolicy;
import dev.nuri.operator.dependents.PlacementConfigMap;
import dev.nuri.operator.dependents.ShardsService;
import dev.nuri.operator.observability.DeploymentMetrics;
import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.placement.Placements;
import dev.nuri.operator.placement.Rebalancer;
import dev.nuri.operator.rollout.GroupObservation;
import dev.nuri.operator.rollout.GroupRollout;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.shard.TemplateRevision;
import dev.nuri.operator.status.CapacityCheck;
import dev.nuri.operator.status.GroupObserver;
import dev.nuri.operator.status.StatusAggregator;
import dev.nuri.operator.status.StatusAggregator.Blocker;
import dev.nuri.operator.status.StatusPatch;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceUtils;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles a ModelDeployment into its placement, Services, one StatefulSet per expert-parallel
 * group, a disruption budget and a network policy, rolling pod template changes a group at a time.
 */
@ControllerConfiguration(name = "modeldeployment")
public class ModelDeploymentReconciler implements Reconciler<ModelDeployment> {

    private static final Logger LOG = LoggerFactory.getLogger(ModelDeploymentReconciler.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How soon a status computed from a stale view is computed again. */
    static final java.time.Duration STALE_STATUS_RETRY = java.time.Duration.ofSeconds(1);

    private final String workerImage;
    private final DeploymentMetrics metrics;
    private final PlacementConfigMap placement = new PlacementConfigMap();
    private final ShardsService shardsService = new ShardsService();
    private final ApiService apiService = new ApiService();
    private final GroupStatefulSets groups = new GroupStatefulSets();
    private final GroupDisruptionBudget disruptionBudget = new GroupDisruptionBudget();
    private final PeerNetworkPolicy networkPolicy = new PeerNetworkPolicy();
    private final Autoscaler autoscaler;
    private final Rebalancer rebalancer;
    private final PeerKeys peerKeys;
    private final GroupDrain drain;

    public ModelDeploymentReconciler(String workerImage, DeploymentMetrics metrics) {
        this(workerImage, metrics, Autoscaler.standard(Autoscaler.DEFAULT_INTERVAL));
    }

    public ModelDeploymentReconciler(String workerImage, DeploymentMetrics metrics, Autoscaler autoscaler) {
        this(workerImage, metrics, autoscaler, Rebalancer.standard(Rebalancer.DEFAULT_INTERVAL));
    }

    public ModelDeploymentReconciler(String workerImage, DeploymentMetrics metrics, Autoscaler autoscaler, Rebalancer rebalancer) {
        this(workerImage, metrics, autoscaler, rebalancer, PeerKeys.random());
    }

    /** @param peerKeys derives each deployment's peer key (the operator's master key) */
    public ModelDeploymentReconciler(String workerImage, DeploymentMetrics metrics, Autoscaler autoscaler, Rebalancer rebalancer,
                                     PeerKeys peerKeys) {
        this.workerImage = workerImage;
        this.peerKeys = peerKeys;
        this.metrics = metrics;
        this.autoscaler = autoscaler;
        this.rebalancer = rebalancer;
        this.drain = new GroupDrain(autoscaler.shardMetrics(), java.time.Clock.systemUTC());
    }

    @Override
    public UpdateControl<ModelDeployment> reconcile(ModelDeployment md, Context<ModelDeployment> context) {
        String revision = TemplateRevision.of(md.getSpec(), workerImage);
        Map<Integer, GroupObservation> observed = observeGroups(md, context);
        Optional<CapacityCheck.Estimate> capacity = CapacityCheck.estimate(md.getSpec());
        Optional<Blocker> blocker = checkCapacity(capacity).or(() -> checkModelSource(md, context));
        GroupRollout.Plan plan = planRollout(md, revision, observed, capacity);
        Set<Integer> draining = drain.stillDraining(md, plan, context.getSecondaryResources(StatefulSet.class),
                context.getSecondaryResources(Pod.class), context.getClient());
        // the placement in force: the last rebalanced one, else the configured layout; the rebalancer may move experts now
        PlacementFile current = rebalancer.placementFor(md).or(() -> placement.rebalancedFile(md, revision))
                .orElseGet(() -> Placements.of(md.getSpec().experts, md.getMetadata().getGeneration()));
        var rebalanced = rebalancer.evaluate(md, current, observed, context.getSecondaryResources(Pod.class),
                dev.nuri.contract.PeerKey.parse(peerKeys.of(md)), context.getClient());
        current = rebalancer.placementFor(md).orElse(current);
        shareWithDependents(context, revision, plan, observed, draining, current);

        // Each dependent is the only writer of its objects: GroupStatefulSets also drains the groups the plan says to.
        placement.reconcile(md, context);
        PeerKeySecret.ensure(md, context, peerKeys);
        shardsService.reconcile(md, context);
        apiService.reconcile(md, context);
        groups.reconcile(md, context);
        disruptionBudget.reconcile(md, context);
        networkPolicy.reconcile(md, context);

        AutoscalingStatus autoscaling = autoscaler.evaluate(md, observed, context.getSecondaryResources(Pod.class), context.getClient());
        UpdateControl<ModelDeployment> control = reportStatus(md, context, revision, plan, observed, blocker, capacity, autoscaling,
                current, rebalanced);
        if (control.getScheduleDelay().isPresent()) return control; // a stale status, computed again soon
        // the autoscaler and the rebalancer decide on a clock, not only on events
        if (!draining.isEmpty()) return control.rescheduleAfter(GroupDrain.POLL); // no event says a request finished
        boolean rebalancing = md.getSpec().experts.placement() == dev.nuri.operator.api.v1alpha1.Placement.BALANCED
                && md.getSpec().experts.rebalance().enabled();
        // whichever decision is due first; from the last decision, not from this reconcile (which may not have decided)
        Optional<java.time.Duration> next = java.util.stream.Stream.of(
                        autoscaling != null ? autoscaler.untilNextEvaluation(md) : null,
                        rebalancing ? rebalancer.untilNextEvaluation(md) : null)
                .filter(Objects::nonNull).min(java.time.Duration::compareTo);
        return next.map(control::rescheduleAfter).orElse(control);
    }

    @Override
    public List<EventSource<?, ModelDeployment>> prepareEventSources(EventSourceContext<ModelDeployment> context) {
        List<EventSource<?, ModelDeployment>> sources = new ArrayList<>(EventSourceUtils.dependentEventSources(context,
                placement, shardsService, apiService, groups, disruptionBudget, networkPolicy));
        // Shard pods drive group readiness and failures; they belong to the deployment named in their label.
        sources.add(new InformerEventSource<>(InformerEventSourceConfiguration.from(Pod.class, ModelDeployment.class)
                .withName("shard-pods")
                .withLabelSelector(ShardLabels.MANAGED_SELECTOR)
                .withSecondaryToPrimaryMapper(pod -> Optional.ofNullable(pod.getMetadata().getLabels().get(ShardLabels.DEPLOYMENT))
                        .map(name -> Set.of(new ResourceID(name, pod.getMetadata().getNamespace()))).orElse(Set.of()))
                .build(), context));
        return sources;
    }

    private Map<Integer, GroupObservation> observeGroups(ModelDeployment md, Context<ModelDeployment> context) {
        return GroupObserver.observe(md, context.getSecondaryResources(StatefulSet.class),
                context.getSecondaryResources(Pod.class));
    }

    private static Optional<Blocker> checkCapacity(Optional<CapacityCheck.Estimate> capacity) {
        return capacity.filter(c -> !c.fits()).map(c -> new Blocker("InsufficientDeviceMemory",
                "each shard needs about " + CapacityCheck.human(c.perShardBytes()) + " of weights but has "
                        + CapacityCheck.human(c.availableBytes()) + " of device memory (at most "
                        + Math.round(CapacityCheck.HEADROOM_PERCENT) + "% usable); raise experts.parallelism or "
                        + "accelerator.perShard, or use a smaller quantization"));
    }

    private static Optional<Blocker> checkModelSource(ModelDeployment md, Context<ModelDeployment> context) {
        var pvc = md.getSpec().model.source.pvc;
        if (pvc != null && context.getClient().persistentVolumeClaims().inNamespace(md.getMetadata().getNamespace())
                .withName(pvc.claimName).get() == null) {
            return Optional.of(new Blocker("ModelSourceMissing", "PersistentVolumeClaim " + pvc.claimName
                    + " named in spec.model.source.pvc does not exist in namespace " + md.getMetadata().getNamespace()));
        }
        var batch = md.getSpec().batch == null || md.getSpec().batch.storage == null ? null : md.getSpec().batch.storage.pvc;
        if (batch != null && context.getClient().persistentVolumeClaims().inNamespace(md.getMetadata().getNamespace())
                .withName(batch.claimName).get() == null) {
            return Optional.of(new Blocker("BatchStorageMissing", "PersistentVolumeClaim " + batch.claimName
                    + " named in spec.batch.storage.pvc does not exist in namespace " + md.getMetadata().getNamespace()));
        }
        return Optional.empty();
    }

    private static GroupRollout.Plan planRollout(ModelDeployment md, String revision, Map<Integer, GroupObservation> observed,
                                                 Optional<CapacityCheck.Estimate> capacity) {
        var rollout = md.getSpec().rollout();
        return GroupRollout.plan(md.getSpec().replicas(), rollout.maxUnavailableGroups(), rollout.maxSurgeGroups(), revision, observed,
                capacity.map(CapacityCheck.Estimate::fits).orElse(true));
    }

    private void shareWithDependents(Context<ModelDeployment> context, String revision, GroupRollout.Plan plan,
                                     Map<Integer, GroupObservation> observed, Set<Integer> draining, PlacementFile current) {
        Set<String> inUse = new HashSet<>();
        observed.values().forEach(g -> inUse.add(g.revision()));
        inUse.add(revision);
        new DependentInputs(revision, inUse, plan, workerImage, draining, current).shareWith(context);
    }

    private UpdateControl<ModelDeployment> reportStatus(ModelDeployment md, Context<ModelDeployment> context, String revision,
                                                        GroupRollout.Plan plan, Map<Integer, GroupObservation> observed,
                                                        Optional<Blocker> blocker, Optional<CapacityCheck.Estimate> capacity,
                                                        AutoscalingStatus autoscaling, PlacementFile current,
                                                        ModelDeploymentStatus.PlacementStatus rebalanced) {
        PlacementFile layout = Placements.of(md.getSpec().experts, md.getMetadata().getGeneration());
        var placementStatus = new ModelDeploymentStatus.PlacementStatus();
        if (rebalanced != null) {
            placementStatus.balancednessBefore = rebalanced.balancednessBefore;
            placementStatus.balancednessAfter = rebalanced.balancednessAfter;
            placementStatus.lastRebalanceTime = rebalanced.lastRebalanceTime;
            placementStatus.message = rebalanced.message;
        }
        placementStatus.generation = current.generation();
        placementStatus.strategy = md.getSpec().experts.placement().name().toLowerCase(Locale.ROOT);
        placementStatus.configMap = ShardNames.placement(md);
        placementStatus.slotsPerShard = layout.defaultSlots()[0].length;
        placementStatus.balancedness = String.format(Locale.ROOT, "%.3f", layout.balancedness());
        ModelDeploymentStatus.CapacityStatus capacityStatus = capacity.map(c -> {
            var s = new ModelDeploymentStatus.CapacityStatus();
            s.estimatedPerShard = CapacityCheck.human(c.perShardBytes());
            s.availablePerShard = CapacityCheck.human(c.availableBytes());
            s.fits = c.fits();
            return s;
        }).orElse(null);

        ModelDeploymentStatus status = StatusAggregator.aggregate(md, revision, plan, observed, blocker, placementStatus,
                capacityStatus, ShardLabels.selectorString(md), ApiService.endpoint(md));
        status.autoscaling = autoscaling;
        metrics.record(md, md.getSpec().replicas(), status.readyReplicas,
                context.getPrimaryCache().list().map(ResourceID::fromResource).toList());

        if (JSON.valueToTree(status).equals(JSON.valueToTree(md.getStatus()))) {
            return UpdateControl.noUpdate(); // steady state: not a single write
        }
        autoscaler.retain(context.getPrimaryCache().list().map(ResourceID::fromResource).collect(java.util.stream.Collectors.toSet()));
        rebalancer.retain(context.getPrimaryCache().list().map(ResourceID::fromResource).collect(java.util.stream.Collectors.toSet()));
        Optional<ModelDeployment> written = StatusPatch.apply(context.getClient(),
                context.getControllerConfiguration().fieldManager(), md, status);
        if (written.isEmpty()) {
            // the deployment changed since the cache saw it (another writer): this status is stale and was not
            // written; look again once the cache has the newer version (a status-only change brings no event)
            LOG.debug("{}/{}: status not written, the deployment changed since version {}", md.getMetadata().getNamespace(),
                    md.getMetadata().getName(), md.getMetadata().getResourceVersion());
            return UpdateControl.<ModelDeployment>noUpdate().rescheduleAfter(STALE_STATUS_RETRY);
        }
        // the next reconcile reads what was written, not the cache's older version
        context.eventSourceRetriever().getControllerEventSource()
                .handleRecentResourceUpdate(ResourceID.fromResource(md), written.get(), md);
        recordTransitions(md, context, status);
        return UpdateControl.noUpdate();
    }

    /**
     * One Kubernetes Event per condition whose status or reason this write changed. Only a write that was accepted
     * announces: it replaced exactly {@code md}'s status, so two operators never both announce one transition.
     */
    private void recordTransitions(ModelDeployment md, Context<ModelDeployment> context, ModelDeploymentStatus next) {
        List<Condition> before = md.getStatus() == null ? List.of() : md.getStatus().conditions;
        boolean first = before.isEmpty(); // a new deployment: "not Degraded" is not news
        for (Condition c : next.conditions) {
            boolean unchanged = before.stream().anyMatch(b -> b.getType().equals(c.getType())
                    && b.getStatus().equals(c.getStatus()) && Objects.equals(b.getReason(), c.getReason()));
            if (unchanged || (first && c.getType().equals(ModelDeploymentStatus.DEGRADED) && c.getStatus().equals("False"))) {
                continue;
            }
            boolean warning = c.getType().equals(ModelDeploymentStatus.DEGRADED) && c.getStatus().equals("True");
            try {
                context.getClient().v1().events().inNamespace(md.getMetadata().getNamespace()).resource(new EventBuilder()
                        .withNewMetadata().withName(md.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 8))
                        .endMetadata()
                        .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(md.getApiVersion()).withKind(md.getKind())
                                .withName(md.getMetadata().getName()).withNamespace(md.getMetadata().getNamespace())
                                .withUid(md.getMetadata().getUid()).build())
                        .withType(warning ? "Warning" : "Normal")
                        .withReason(c.getReason())
                        .withMessage(c.getType() + "=" + c.getStatus() + ": " + c.getMessage())
                        .withReportingComponent("nuri-operator")
                        .withSource(new io.fabric8.kubernetes.api.model.EventSourceBuilder().withComponent("nuri-operator").build())
                        .withFirstTimestamp(Instant.now().toString()).withLastTimestamp(Instant.now().toString()).withCount(1)
                        .build()).create();
            } catch (RuntimeException e) {
                LOG.warn("could not record event {} for {}: {}", c.getReason(), md.getMetadata().getName(), e.getMessage());
            }
        }
    }
}
