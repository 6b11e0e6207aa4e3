package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.nuri.contract.PlacementStrategy;

/** spec.experts.placement: the CRD's spelling of the shared {@link PlacementStrategy}. */
public enum Placement {
    @JsonProperty("static") STATIC(PlacementStrategy.STATIC),
    @JsonProperty("balanced") BALANCED(PlacementStrategy.BALANCED);

    private final PlacementStrategy strategy;

    Placement(PlacementStrategy strategy) {
        this.strategy = strategy;
    }

    public PlacementStrategy strategy() {
        return strategy;
    }
}
