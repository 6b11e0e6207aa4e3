package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.placement.Placements;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import dev.nuri.contract.InvalidPlacementException;
import dev.nuri.contract.PlacementFile;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code <name>-placement}: one placement file per pod template revision in use, so groups still on
 * an old revision keep the layout they were started with while new groups get the new one. Each group's
 * StatefulSet carries its revision's file too, from which a deleted ConfigMap gets an old revision's file back.
 */
public class PlacementConfigMap extends CRUDKubernetesDependentResource<ConfigMap, ModelDeployment> {

    public PlacementConfigMap() {
        super(ConfigMap.class);
        OwnedObjects.watchOnlyManaged(this, ConfigMap.class);
    }

    /**
     * The placement file this ConfigMap carries for a revision when it is a rebalanced one (per-layer entries, no
     * default) that still fits the spec: the rebalancer's (or a hand-pinned) placement outlives an operator restart.
     */
    public Optional<PlacementFile> rebalancedFile(ModelDeployment md, String revision) {
        return eventSource().flatMap(es -> es.get(new ResourceID(ShardNames.placement(md), md.getMetadata().getNamespace())))
                .map(ConfigMap::getData).map(d -> d.get(ShardNames.placementFile(revision))).flatMap(text -> {
                    try {
                        PlacementFile p = PlacementFile.parse(text);
                        var experts = md.getSpec().experts;
                        boolean fits = p.defaultSlots() == null && p.numExperts() == experts.total && p.shards() == experts.parallelism()
                                && experts.placement() == dev.nuri.operator.api.v1alpha1.Placement.BALANCED;
                        return fits ? Optional.of(p) : Optional.empty();
                    } catch (InvalidPlacementException e) {
                        return Optional.empty();
                    }
                });
    }

    @Override
    protected ConfigMap desired(ModelDeployment md, Context<ModelDeployment> context) {
        DependentInputs inputs = DependentInputs.of(context);
        String updateRevision = inputs.updateRevision();
        Set<String> inUse = inputs.revisionsInUse();

        Map<String, String> data = new TreeMap<>();
        // Read the current ConfigMap by name: getSecondaryResource() would call desired() again.
        eventSource().flatMap(es -> es.get(new ResourceID(ShardNames.placement(md), md.getMetadata().getNamespace())))
                .map(ConfigMap::getData).ifPresent(existing -> existing.forEach((key, file) -> {
            if (inUse.stream().anyMatch(r -> key.equals(ShardNames.placementFile(r)))) {
                data.put(key, file); // an old revision's layout stays as it was
            }
        }));
        // a revision whose file is gone (the ConfigMap was deleted mid-rollout): the copy its groups' StatefulSets carry
        inUse.stream().filter(r -> !r.equals(updateRevision) && !data.containsKey(ShardNames.placementFile(r)))
                .forEach(r -> context.getSecondaryResourcesAsStream(StatefulSet.class)
                        .filter(sts -> ShardNames.groupIndex(md, sts.getMetadata().getName()) >= 0)
                        .filter(sts -> r.equals(sts.getSpec().getTemplate().getMetadata().getLabels().get(ShardLabels.REVISION)))
                        .flatMap(sts -> GroupStatefulSets.placementOf(sts).stream()).findFirst()
                        .ifPresent(file -> data.put(ShardNames.placementFile(r), file)));
        PlacementFile placement = inputs.placement() != null ? inputs.placement() : Placements.of(md.getSpec().experts, md.getMetadata().getGeneration());
        data.put(ShardNames.placementFile(updateRevision), placement.toJson());
        return new ConfigMapBuilder()
                .withMetadata(OwnedObjects.metadata(md, ShardNames.placement(md)))
                .withData(data)
                .build();
    }
}
