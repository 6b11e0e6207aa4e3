package dev.nuri.operator.dependents;

import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.rollout.GroupRollout;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Set;

/**
 * What the reconciler decided before the dependents run, handed to them in one piece: JOSDK's
 * {@code desired(primary, context)} has no other channel.
 *
 * @param updateRevision  the pod template revision new and updated groups get
 * @param revisionsInUse  revisions some group still runs, the update revision included
 * @param plan            what happens to each group in this reconciliation
 * @param workerImage     the worker image when spec.image is not set
 * @param draining        groups the plan leaves out, or drains for a new revision, that stay as they are until their
 *                        requests in flight are done (GroupDrain)
 * @param placement       the placement file of the update revision (the configured layout, or the last rebalanced one)
 */
public record DependentInputs(String updateRevision, Set<String> revisionsInUse, GroupRollout.Plan plan,
                              String workerImage, Set<Integer> draining, PlacementFile placement) {

    public DependentInputs {
        revisionsInUse = Set.copyOf(revisionsInUse);
        draining = Set.copyOf(draining);
    }

    public DependentInputs(String updateRevision, Set<String> revisionsInUse, GroupRollout.Plan plan, String workerImage) {
        this(updateRevision, revisionsInUse, plan, workerImage, Set.of(), null);
    }

    /** Hands these inputs to the dependents reconciled next with {@code context}. */
    public void shareWith(Context<ModelDeployment> context) {
        context.managedWorkflowAndDependentResourceContext().put(DependentInputs.class, this);
    }

    static DependentInputs of(Context<ModelDeployment> context) {
        return context.managedWorkflowAndDependentResourceContext().getMandatory(DependentInputs.class, DependentInputs.class);
    }
}
