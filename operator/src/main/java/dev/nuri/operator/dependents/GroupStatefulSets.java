package dev.nuri.operator.dependents;

import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.placement.Placements;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.shard.ShardPodTemplate;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.CRUDKubernetesBulkDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.Matcher;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One StatefulSet {@code <name>-g<i>} per expert-parallel group, and the only writer of them. As a
 * bulk dependent, groups the rollout plan leaves out are deleted: scaling down removes the highest
 * indices, once GroupDrain says their requests in flight are done (until then they stay as they are). OnDelete: pods change revision only when the plan drains
 * the whole group, which is this dependent's desired state too: the group's StatefulSet as it is,
 * at zero replicas.
 */
public class GroupStatefulSets extends KubernetesDependentResource<StatefulSet, ModelDeployment>
        implements CRUDKubernetesBulkDependentResource<StatefulSet, ModelDeployment>, GarbageCollected<ModelDeployment> {

    private static final Logger LOG = LoggerFactory.getLogger(GroupStatefulSets.class);
    static final String DESIRED_HASH = "serving.nuri.dev/applied-hash";
    /**
     * The placement file the group's revision was started with. The placement ConfigMap is the pods' copy; this one
     * outlives it, so a ConfigMap deleted mid-rollout comes back with the layout of the revision older groups still run.
     */
    static final String PLACEMENT = "serving.nuri.dev/placement";
    private static final com.fasterxml.jackson.databind.ObjectMapper HASH_JSON = new com.fasterxml.jackson.databind.ObjectMapper()
            .configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    public GroupStatefulSets() {
        super(StatefulSet.class);
        OwnedObjects.watchOnlyManaged(this, StatefulSet.class);
    }

    @Override
    public Map<ResourceID, StatefulSet> desiredResources(ModelDeployment md, Context<ModelDeployment> context) {
        DependentInputs inputs = DependentInputs.of(context);
        Map<ResourceID, StatefulSet> actual = getSecondaryResources(md, context);

        Map<ResourceID, StatefulSet> desired = new LinkedHashMap<>();
        inputs.plan().actions().forEach((group, action) -> {
            ResourceID id = new ResourceID(ShardNames.group(md, group), md.getMetadata().getNamespace());
            StatefulSet current = actual.get(id);
            switch (action) {
                case UPDATE -> desired.put(id, build(md, group, inputs.workerImage(), inputs.updateRevision(), inputs.placement()));
                // a group not chosen yet keeps its StatefulSet as it is (see match())
                case KEEP -> { if (current != null) desired.put(id, current); }
                // still serving requests that started before the rollout chose it: kept as it is until they finish
                case DRAIN -> { if (current != null) desired.put(id, inputs.draining().contains(group) ? current : drained(md, group, current)); }
            }
        });
        actual.forEach((id, current) -> {
            if (!desired.containsKey(id) && inputs.draining().contains(ShardNames.groupIndex(md, id.getName()))) {
                desired.put(id, current); // being removed: kept as it is until its requests finish
            }
        });
        return desired;
    }

    /**
     * The group's StatefulSet as it is, at zero replicas: its pods stop, and the next plan starts it
     * at the new revision. Only what this operator applies is kept, so the apply takes no other
     * writer's fields.
     */
    static StatefulSet drained(ModelDeployment md, int group, StatefulSet current) {
        if (!Integer.valueOf(0).equals(current.getSpec().getReplicas())) {
            LOG.info("{}/{}: draining group {} before moving it to a new revision",
                    md.getMetadata().getNamespace(), md.getMetadata().getName(), group);
        }
        var metadata = OwnedObjects.metadata(md, current.getMetadata().getName());
        metadata.getLabels().put(ShardLabels.GROUP, Integer.toString(group));
        var annotations = new java.util.HashMap<String, String>(); // JOSDK's match adds to it
        String applied = appliedHash(current);
        if (applied != null) annotations.put(DESIRED_HASH, applied);
        placementOf(current).ifPresent(file -> annotations.put(PLACEMENT, file));
        if (!annotations.isEmpty()) metadata.setAnnotations(annotations);
        return new StatefulSetBuilder()
                .withMetadata(metadata)
                .withSpec(new StatefulSetBuilder(current).build().getSpec())
                .editSpec().withReplicas(0).endSpec()
                .build();
    }

    static StatefulSet build(ModelDeployment md, int group, String image, String revision) {
        return build(md, group, image, revision, null);
    }

    /** @param placement the revision's placement file; null for the configured layout */
    static StatefulSet build(ModelDeployment md, int group, String image, String revision, PlacementFile placement) {
        int shards = md.getSpec().experts.parallelism();
        var metadata = OwnedObjects.metadata(md, ShardNames.group(md, group));
        metadata.getLabels().put(ShardLabels.GROUP, Integer.toString(group));
        metadata.setAnnotations(Map.of(PLACEMENT, (placement != null ? placement
                : Placements.of(md.getSpec().experts, md.getMetadata().getGeneration())).toJson()));
        StatefulSet sts = new StatefulSetBuilder()
                .withMetadata(metadata)
                .withNewSpec()
                .withReplicas(shards)
                .withServiceName(ShardNames.shardsService(md))
                .withPodManagementPolicy("Parallel")
                .withNewUpdateStrategy().withType("OnDelete").endUpdateStrategy()
                .withNewSelector().withMatchLabels(ShardLabels.group(md, group)).endSelector()
                .withTemplate(ShardPodTemplate.build(md, group, image, revision))
                .endSpec()
                .build();
        var annotations = new java.util.HashMap<>(sts.getMetadata().getAnnotations()); // JOSDK's match adds to it
        annotations.put(DESIRED_HASH, hash(sts)); // of everything above, the placement included
        sts.getMetadata().setAnnotations(annotations);
        return sts;
    }

    /**
     * What this operator last applied, as a hash. The API server defaults many StatefulSet and pod
     * fields (fieldRef apiVersion, probe and port defaults), which makes a field-by-field comparison
     * report changes that are not there; comparing hashes keeps a steady-state resync free of writes.
     */
    private static String hash(StatefulSet sts) {
        try {
            byte[] json = HASH_JSON.writeValueAsBytes(sts);
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(json), 0, 8);
        } catch (Exception e) {
            throw new IllegalStateException("cannot hash StatefulSet " + sts.getMetadata().getName(), e);
        }
    }

    /** The placement file a group's StatefulSet was applied with, if it carries one. */
    static Optional<String> placementOf(StatefulSet sts) {
        return Optional.ofNullable(sts.getMetadata().getAnnotations()).map(a -> a.get(PLACEMENT));
    }

    private static String appliedHash(StatefulSet sts) {
        Map<String, String> annotations = sts.getMetadata().getAnnotations();
        return annotations == null ? null : annotations.get(DESIRED_HASH);
    }

    @Override
    public Map<ResourceID, StatefulSet> getSecondaryResources(ModelDeployment md, Context<ModelDeployment> context) {
        return context.getSecondaryResourcesAsStream(StatefulSet.class)
                .filter(s -> ShardNames.groupIndex(md, s.getMetadata().getName()) >= 0)
                .collect(Collectors.toMap(ResourceID::fromResource, s -> s));
    }

    @Override
    public Matcher.Result<StatefulSet> match(StatefulSet actual, StatefulSet desired, ModelDeployment md,
                                             Context<ModelDeployment> context) {
        if (actual == desired) {
            return Matcher.Result.nonComputed(true); // KEEP: nothing to write
        }
        return Matcher.Result.computed(sameApplied(actual, desired)
                && super.match(actual, desired, md, context).matched(), desired);
    }

    /**
     * What this operator applied last is what it would apply now: the same hash, the same replicas. That alone
     * misses a hand edit of a field it applied (kubectl edit keeps the annotation), which is why match() also
     * compares the fields this operator owns (its server-side apply managed fields) with what it would apply: an
     * update by another manager takes the field from this operator, so the edit shows up as a missing field and is
     * applied back (JOSDK's server-side-apply matcher). Fields only the API server defaulted are owned by nobody
     * here and do not count, so what build() writes must be spelled as the API server stores it (ShardPodTemplate).
     */
    static boolean sameApplied(StatefulSet actual, StatefulSet desired) {
        return appliedHash(desired) != null && appliedHash(desired).equals(appliedHash(actual))
                && java.util.Objects.equals(actual.getSpec().getReplicas(), desired.getSpec().getReplicas());
    }
}
