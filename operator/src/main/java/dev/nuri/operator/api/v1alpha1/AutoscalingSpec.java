package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.minReplicas <= self.maxReplicas",
        message = "spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas", fieldPath = ".minReplicas")
@ValidationRule(value = "self.minReplicas >= 1", fieldPath = ".minReplicas",
        message = "spec.autoscaling.minReplicas 0 is not supported: with no group left nothing would receive the request "
                + "that should wake the deployment; use 1 or more")
@ValidationRule(value = "!self.enabled || (has(self.targets) && (has(self.targets.timeToFirstTokenMillis) "
        + "|| has(self.targets.interTokenLatencyMillis) || has(self.targets.kvCacheUsagePercent) || has(self.targets.queueLength)))",
        fieldPath = ".targets",
        message = "spec.autoscaling.targets needs at least one target when the autoscaler is enabled")
public class AutoscalingSpec {

    public static final boolean DEFAULT_ENABLED = false;
    public static final int DEFAULT_MIN_REPLICAS = 1;
    public static final int DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300;
    public static final int DEFAULT_SCALE_UP_STABILIZATION_SECONDS = 30;

    @Default("" + DEFAULT_ENABLED)
    @JsonPropertyDescription("Turns the built-in autoscaler on. It writes spec.replicas through the scale subresource.")
    public Boolean enabled;

    @Default("" + DEFAULT_MIN_REPLICAS)
    @Min(0)
    @JsonPropertyDescription("Fewest groups, at least 1 (scaling to zero is not supported: nothing would wake the deployment).")
    public Integer minReplicas;

    @Required
    @Min(1)
    @JsonPropertyDescription("Most groups.")
    public Integer maxReplicas;

    @JsonPropertyDescription("Service-level targets; the autoscaler adds groups when any is exceeded. At least one when enabled.")
    public Targets targets;

    @Default("" + DEFAULT_SCALE_UP_STABILIZATION_SECONDS)
    @Min(0)
    @Max(3600)
    @JsonPropertyDescription("Seconds every recommendation must ask for more groups before one is added: a spike shorter "
            + "than this adds nothing. Groups are added one at a time, and not while one is still starting.")
    public Integer scaleUpStabilizationSeconds;

    @Default("" + DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS)
    @Min(0)
    @Max(3600)
    @JsonPropertyDescription("Seconds the recommendation must stay lower before groups are removed (HPA's default is 300).")
    public Integer scaleDownStabilizationSeconds;

    @JsonPropertyDescription("Read the workers' metrics from this Prometheus instead of from each shard pod's /metrics. "
            + "Its series must carry the namespace and pod labels (as a PodMonitor or the pod service discovery gives them).")
    public Prometheus prometheus;

    public boolean enabled() {
        return enabled != null ? enabled : DEFAULT_ENABLED;
    }

    public int minReplicas() {
        return minReplicas != null ? minReplicas : DEFAULT_MIN_REPLICAS;
    }

    public int scaleUpStabilizationSeconds() {
        return scaleUpStabilizationSeconds != null ? scaleUpStabilizationSeconds : DEFAULT_SCALE_UP_STABILIZATION_SECONDS;
    }

    public int scaleDownStabilizationSeconds() {
        return scaleDownStabilizationSeconds != null ? scaleDownStabilizationSeconds
                : DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Prometheus {
        @Required
        @Pattern("^https?://[^\\s]+$")
        @JsonPropertyDescription("Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090.")
        public String url;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Targets {
        @Min(1)
        @JsonPropertyDescription("Target p90 time to first token, in milliseconds, over the last minute of requests.")
        public Integer timeToFirstTokenMillis;

        @Min(1)
        @JsonPropertyDescription("Target p90 inter-token latency, in milliseconds, over the last minute of requests.")
        public Integer interTokenLatencyMillis;

        @Min(1)
        @Max(100)
        @JsonPropertyDescription("Target KV-cache use per shard, in percent (llm-d counts a replica saturated at 80).")
        public Integer kvCacheUsagePercent;

        @Min(1)
        @JsonPropertyDescription("Target waiting requests per group (summed over its shards). A count of requests: a group is added above max(target × 1.1, target + 1) and removed below target × 0.9, so one extra waiting request is not a breach.")
        public Integer queueLength;
    }
}
