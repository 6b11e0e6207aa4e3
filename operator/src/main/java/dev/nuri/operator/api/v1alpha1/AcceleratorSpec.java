package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.Quantity;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class AcceleratorSpec {

    public static final int DEFAULT_PER_SHARD = 1;

    @Default("cpu")
    @JsonPropertyDescription("Accelerator family of the nodes the shards run on. It sets the extended resource, "
            + "node labels and tolerations. Immutable.")
    public AcceleratorProfile profile;

    @Default("" + DEFAULT_PER_SHARD)
    @Min(1)
    @Max(64)
    @JsonPropertyDescription("Devices each shard pod requests (ignored for the cpu profile).")
    public Integer perShard;

    @Pattern("^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9][-A-Za-z0-9_.]*$")
    @JsonPropertyDescription("Overrides the extended resource name of the profile, e.g. rebellions.ai/ATOM-CA22.")
    public String resourceName;

    @JsonPropertyDescription("Overrides the memory of one device used by the capacity check, e.g. 80Gi for an NVIDIA H100.")
    public Quantity deviceMemory;

    public AcceleratorProfile profile() {
        return profile != null ? profile : AcceleratorProfile.CPU;
    }

    /** Devices each shard pod requests. */
    public int perShard() {
        return perShard != null ? perShard : DEFAULT_PER_SHARD;
    }
}
