package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.minReplicas <= self.maxReplicas",
        message = "spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas", fieldPath = ".minReplicas")
public class AutoscalingSpec {

    public static final boolean DEFAULT_ENABLED = false;
    public static final int DEFAULT_MIN_REPLICAS = 1;
    public static final int DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300;

    @Default("" + DEFAULT_ENABLED)
    @JsonPropertyDescription("Turns the built-in autoscaler on. It writes spec.replicas through the scale subresource.")
    public Boolean enabled;

    @Default("" + DEFAULT_MIN_REPLICAS)
    @Min(0)
    @JsonPropertyDescription("Fewest groups. 0 allows scaling to zero when idle.")
    public Integer minReplicas;

    @Required
    @Min(1)
    @JsonPropertyDescription("Most groups.")
    public Integer maxReplicas;

    @JsonPropertyDescription("Service-level targets; the autoscaler adds groups when any is exceeded.")
    public Targets targets;

    @Default("" + DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS)
    @Min(0)
    @Max(3600)
    @JsonPropertyDescription("Seconds the recommendation must stay lower before groups are removed (HPA's default is 300).")
    public Integer scaleDownStabilizationSeconds;

    public boolean enabled() {
        return enabled != null ? enabled : DEFAULT_ENABLED;
    }

    public int minReplicas() {
        return minReplicas != null ? minReplicas : DEFAULT_MIN_REPLICAS;
    }

    public int scaleDownStabilizationSeconds() {
        return scaleDownStabilizationSeconds != null ? scaleDownStabilizationSeconds
                : DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Targets {
        @Min(0)
        @JsonPropertyDescription("Target p90 time to first token, in milliseconds.")
        public Integer timeToFirstTokenMillis;

        @Min(0)
        @JsonPropertyDescription("Target p90 inter-token latency, in milliseconds.")
        public Integer interTokenLatencyMillis;

        @Min(1)
        @Max(100)
        @JsonPropertyDescription("Target KV-cache use per shard, in percent (llm-d counts a replica saturated at 80).")
        public Integer kvCacheUsagePercent;

        @Min(0)
        @JsonPropertyDescription("Target waiting requests per group.")
        public Integer queueLength;
    }
}
