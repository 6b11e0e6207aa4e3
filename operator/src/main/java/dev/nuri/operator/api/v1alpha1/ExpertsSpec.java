package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "(self.total + self.redundant) % self.parallelism == 0",
        // format() keeps the message's estimated cost bounded; string concatenation with string(int) does not.
        messageExpression = "'experts.parallelism %d must divide total + redundant = %d; valid degrees: %s'.format(["
                + "self.parallelism, self.total + self.redundant, [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 32, 40, 48, 50,"
                + " 64, 80, 96, 100, 128, 160, 192, 200, 256, 320, 384, 512].filter(d, (self.total + self.redundant) % d == 0)])",
        fieldPath = ".parallelism", reason = "FieldValueInvalid")
public class ExpertsSpec {

    public static final int DEFAULT_PARALLELISM = 1;
    public static final int DEFAULT_REDUNDANT = 0;

    @Required
    @Min(1)
    @Max(4096)
    @ValidationRule(value = "self == oldSelf",
            message = "spec.experts.total is immutable: it is fixed by the model checkpoint; create a new ModelDeployment for a different model")
    @JsonPropertyDescription("Number of routed experts in the model (192 for A.X K1, 256 for DeepSeek-V3). Immutable.")
    public Integer total;

    @Default("" + DEFAULT_PARALLELISM)
    @Min(1)
    @Max(1024)
    @JsonPropertyDescription("Shards per group: the expert-parallel degree. Must divide total + redundant; "
            + "each shard then holds (total + redundant) / parallelism expert slots.")
    public Integer parallelism;

    @Default("" + DEFAULT_REDUNDANT)
    @Min(0)
    @Max(1024)
    @JsonPropertyDescription("Extra expert slots per group that hold copies of hot experts (EPLB-style redundancy).")
    public Integer redundant;

    @Default("static")
    @JsonPropertyDescription("static: experts are laid out in contiguous blocks per shard, redundant slots copy experts "
            + "round-robin; balanced: the operator places experts from measured load to even out the shards.")
    public Placement placement;

    @JsonPropertyDescription("With placement: balanced, when the operator rebalances experts from measured load.")
    public RebalanceSpec rebalance;

    /** Shards per group, defaulted as the CRD defaults it. */
    public int parallelism() {
        return parallelism != null ? parallelism : DEFAULT_PARALLELISM;
    }

    public int redundant() {
        return redundant != null ? redundant : DEFAULT_REDUNDANT;
    }

    public Placement placement() {
        return placement != null ? placement : Placement.STATIC;
    }

    /** The same spec without {@link #rebalance}, which only tunes the operator (the pod template revision leaves it out). */
    public ExpertsSpec withoutRebalance() {
        ExpertsSpec copy = new ExpertsSpec();
        copy.total = total;
        copy.parallelism = parallelism;
        copy.redundant = redundant;
        copy.placement = placement;
        return copy;
    }

    public RebalanceSpec rebalance() {
        return rebalance != null ? rebalance : new RebalanceSpec();
    }

    /** Expert slots each shard holds: (total + redundant) / parallelism. */
    public int slotsPerShard() {
        return (total + redundant()) / parallelism();
    }
}
