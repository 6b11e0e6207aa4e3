package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;

/**
 * Lets voluntary disruptions (node drains) take at most one group's worth of shard pods at a time.
 * Kubernetes counts pods, not groups: the budget cannot stop those pods coming from two different
 * groups. Per-group budgets would not help either (each would allow one pod per group at once).
 */
public class GroupDisruptionBudget extends CRUDKubernetesDependentResource<PodDisruptionBudget, ModelDeployment> {

    public GroupDisruptionBudget() {
        super(PodDisruptionBudget.class);
        OwnedObjects.watchOnlyManaged(this, PodDisruptionBudget.class);
    }

    @Override
    protected PodDisruptionBudget desired(ModelDeployment md, Context<ModelDeployment> context) {
        int shards = md.getSpec().experts.parallelism();
        return new PodDisruptionBudgetBuilder()
                .withMetadata(OwnedObjects.metadata(md, md.getMetadata().getName()))
                .withNewSpec()
                .withMaxUnavailable(new IntOrString(shards))
                .withNewSelector().withMatchLabels(java.util.Map.of(ShardLabels.DEPLOYMENT, md.getMetadata().getName()))
                .endSelector()
                .endSpec()
                .build();
    }
}
