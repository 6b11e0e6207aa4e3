package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.maxUnavailableGroups + self.maxSurgeGroups > 0",
        message = "spec.rollout: maxUnavailableGroups + maxSurgeGroups must be greater than 0, or a rollout could never start",
        fieldPath = ".maxUnavailableGroups")
public class RolloutSpec {

    public static final int DEFAULT_MAX_UNAVAILABLE_GROUPS = 1;
    public static final int DEFAULT_MAX_SURGE_GROUPS = 0;

    @Default("" + DEFAULT_MAX_UNAVAILABLE_GROUPS)
    @Min(0)
    @JsonPropertyDescription("Groups that may be out of service at once during a rollout. A group is replaced whole; "
            + "its shards never run mixed revisions.")
    public Integer maxUnavailableGroups;

    @Default("" + DEFAULT_MAX_SURGE_GROUPS)
    @Min(0)
    @JsonPropertyDescription("Extra groups created above spec.replicas during a rollout, so capacity never drops.")
    public Integer maxSurgeGroups;

    public int maxUnavailableGroups() {
        return maxUnavailableGroups != null ? maxUnavailableGroups : DEFAULT_MAX_UNAVAILABLE_GROUPS;
    }

    public int maxSurgeGroups() {
        return maxSurgeGroups != null ? maxSurgeGroups : DEFAULT_MAX_SURGE_GROUPS;
    }
}
