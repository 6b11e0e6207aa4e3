package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.rollout.GroupRollout;
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
import java.util.stream.Collectors;

/**
 * One StatefulSet {@code <name>-g<i>} per expert-parallel group. As a bulk dependent, groups the
 * rollout plan leaves out are deleted: scaling down removes the highest indices, whose pods drain
 * on SIGTERM. OnDelete: pods change revision only when the operator drains the whole group.
 */
public class GroupStatefulSets extends KubernetesDependentResource<StatefulSet, ModelDeployment>
        implements CRUDKubernetesBulkDependentResource<StatefulSet, ModelDeployment>, GarbageCollected<ModelDeployment> {

    /** Context keys the reconciler fills before this dependent runs. */
    public static final String PLAN = "rolloutPlan";
    public static final String WORKER_IMAGE = "workerImage";
    static final String DESIRED_HASH = "serving.nuri.dev/applied-hash";
    private static final com.fasterxml.jackson.databind.ObjectMapper HASH_JSON = new com.fasterxml.jackson.databind.ObjectMapper()
            .configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    public GroupStatefulSets() {
        super(StatefulSet.class);
        OwnedObjects.watchOnlyManaged(this, StatefulSet.class);
    }

    @Override
    public Map<ResourceID, StatefulSet> desiredResources(ModelDeployment md, Context<ModelDeployment> context) {
        var shared = context.managedWorkflowAndDependentResourceContext();
        GroupRollout.Plan plan = shared.getMandatory(PLAN, GroupRollout.Plan.class);
        String image = shared.getMandatory(WORKER_IMAGE, String.class);
        String revision = shared.getMandatory(PlacementConfigMap.UPDATE_REVISION, String.class);
        Map<ResourceID, StatefulSet> actual = getSecondaryResources(md, context);

        Map<ResourceID, StatefulSet> desired = new LinkedHashMap<>();
        plan.actions().forEach((group, action) -> {
            ResourceID id = new ResourceID(ShardNames.group(md, group), md.getMetadata().getNamespace());
            // A group not chosen yet, or being drained by the reconciler, keeps its StatefulSet as it is (see match()).
            desired.put(id, action == GroupRollout.Action.UPDATE ? build(md, group, image, revision) : actual.get(id));
        });
        return desired;
    }

    static StatefulSet build(ModelDeployment md, int group, String image, String revision) {
        int shards = md.getSpec().experts.parallelism();
        var metadata = OwnedObjects.metadata(md, ShardNames.group(md, group));
        metadata.getLabels().put(ShardLabels.GROUP, Integer.toString(group));
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
        sts.getMetadata().setAnnotations(Map.of(DESIRED_HASH, hash(sts)));
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
            return Matcher.Result.nonComputed(true); // KEEP or DRAIN: not this dependent's write
        }
        Map<String, String> applied = actual.getMetadata().getAnnotations();
        boolean same = applied != null && desired.getMetadata().getAnnotations().get(DESIRED_HASH).equals(applied.get(DESIRED_HASH))
                && java.util.Objects.equals(actual.getSpec().getReplicas(), desired.getSpec().getReplicas());
        return Matcher.Result.computed(same, desired);
    }
}
