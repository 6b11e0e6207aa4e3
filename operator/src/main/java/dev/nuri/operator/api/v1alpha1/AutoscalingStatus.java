package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.List;

/** What the built-in autoscaler last decided, and why (status.autoscaling). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class AutoscalingStatus {

    @JsonPropertyDescription("Groups the autoscaler wants now (it writes them to spec.replicas through the scale subresource).")
    public Integer desiredReplicas;

    @JsonPropertyDescription("This evaluation's recommendation, before the stabilization windows and the one-group step.")
    public Integer recommendedReplicas;

    @JsonPropertyDescription("Groups whose every shard was ready and whose metrics were read; the values below are theirs.")
    public Integer measuredGroups;

    @JsonPropertyDescription("When the autoscaler last changed spec.replicas (RFC 3339).")
    public String lastScaleTime;

    @JsonPropertyDescription("Where the metrics came from: the shard pods' /metrics, or the Prometheus URL.")
    public String source;

    @JsonPropertyDescription("The target (field of spec.autoscaling.targets) whose recommendation was the largest.")
    public String decidingTarget;

    @JsonPropertyDescription("The decision in words.")
    public String message;

    @JsonPropertyDescription("Each configured target: its measured value against its goal, and the groups it alone asks for.")
    public List<TargetStatus> targets;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class TargetStatus {
        @JsonPropertyDescription("Field name in spec.autoscaling.targets.")
        public String name;

        @JsonPropertyDescription("Measured value in the target's unit, as a decimal string; absent when it could not be measured.")
        public String current;

        @JsonPropertyDescription("The target, as a decimal string.")
        public String target;

        @JsonPropertyDescription("Groups this target alone asks for; absent when it could not be measured.")
        public Integer desiredReplicas;
    }
}
