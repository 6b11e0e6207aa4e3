package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/** spec.experts.rebalance: when the operator moves experts from measured load (placement: balanced only). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RebalanceSpec {
    public static final double DEFAULT_MIN_GAIN = 0.05;
    public static final int DEFAULT_MIN_INTERVAL_SECONDS = 300;
    public static final int DEFAULT_MIN_TOKENS = 10_000;

    @Default("true")
    @JsonPropertyDescription("With placement: balanced, move experts live from the groups' measured load. false pins the placement "
            + "in force (the last rebalanced one, or a file written into the placement ConfigMap by hand).")
    public Boolean enabled;

    @Default("0.05")
    @Min(0)
    @Max(1)
    @JsonPropertyDescription("Roll out a new placement only when it raises the predicted balancedness (mean over max shard load, "
            + "averaged over MoE layers, under the measured load) by more than this.")
    public Double minGain;

    @Default("" + DEFAULT_MIN_INTERVAL_SECONDS)
    @Min(10)
    @JsonPropertyDescription("Seconds between two rebalances at least.")
    public Integer minIntervalSeconds;

    @Default("" + DEFAULT_MIN_TOKENS)
    @Min(1)
    @JsonPropertyDescription("Routed tokens (over all MoE layers and groups) the load window must hold before it is acted on.")
    public Integer minTokens;

    public boolean enabled() {
        return enabled == null || enabled;
    }

    public double minGain() {
        return minGain != null ? minGain : DEFAULT_MIN_GAIN;
    }

    public int minIntervalSeconds() {
        return minIntervalSeconds != null ? minIntervalSeconds : DEFAULT_MIN_INTERVAL_SECONDS;
    }

    public int minTokens() {
        return minTokens != null ? minTokens : DEFAULT_MIN_TOKENS;
    }
}
