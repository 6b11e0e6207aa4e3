package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** How routed experts are assigned to shards. */
public enum Placement {
    @JsonProperty("static") STATIC,
    @JsonProperty("balanced") BALANCED
}
