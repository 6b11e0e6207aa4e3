package dev.nuri.operator.placement;

import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.api.v1alpha1.ExpertsSpec;

/**
 * The placement file for a ModelDeployment's experts. Without measured load every MoE layer gets the same layout,
 * written as the file's {@code default} entry; the strategies themselves are the shared
 * {@link dev.nuri.contract.PlacementStrategy}.
 */
public final class Placements {
    private Placements() {}

    /** @param generation the ModelDeployment's generation, so that workers can tell a new file from a re-read */
    public static PlacementFile of(ExpertsSpec experts, long generation) {
        return experts.placement().strategy().layout(experts.total, experts.parallelism(), experts.redundant(), generation);
    }
}
