package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelDeploymentStatus {

    /** Condition types, following Kubernetes conventions. */
    public static final String READY = "Ready";
    public static final String PROGRESSING = "Progressing";
    public static final String DEGRADED = "Degraded";

    @JsonPropertyDescription("Ready: at least replicas - maxUnavailableGroups groups (one at least) are serving-ready, of any revision; "
            + "AllGroupsReady when every desired group serves the current revision. Progressing: a rollout or scaling is under way. "
            + "Degraded: something needs the user's attention; the reason says what.")
    public List<Condition> conditions = new ArrayList<>();

    @JsonPropertyDescription("The metadata.generation this status describes.")
    public Long observedGeneration;

    @StatusReplicas
    @JsonPropertyDescription("Groups that exist (for the scale subresource).")
    public Integer replicas;

    @JsonPropertyDescription("Groups whose every shard is serving-ready.")
    public Integer readyReplicas;

    @JsonPropertyDescription("Groups running the current pod template revision.")
    public Integer updatedReplicas;

    @JsonPropertyDescription("Serving-ready groups / desired groups, for kubectl get.")
    public String readyGroups;

    @LabelSelector
    @JsonPropertyDescription("Label selector of all shard pods (for the scale subresource and HPA).")
    public String selector;

    @JsonPropertyDescription("Hash of the current pod template; groups labelled with another revision are rolled.")
    public String updateRevision;

    @JsonPropertyDescription("One entry per group.")
    public List<GroupStatus> groups;

    @JsonPropertyDescription("Where the experts are, in summary; the full table is in the placement ConfigMap.")
    public PlacementStatus placement;

    @JsonPropertyDescription("Memory estimate per shard against the devices' memory, checked before pods are created.")
    public CapacityStatus capacity;

    @JsonPropertyDescription("In-cluster URL of the OpenAI-compatible API.")
    public String endpoint;

    @JsonPropertyDescription("The built-in autoscaler's last decision, when spec.autoscaling.enabled.")
    public AutoscalingStatus autoscaling;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class GroupStatus {
        @JsonPropertyDescription("Group index i; its StatefulSet is <name>-g<i>.")
        public Integer index;

        @JsonPropertyDescription("Pod template revision the group runs.")
        public String revision;

        @JsonPropertyDescription("Shards that exist.")
        public Integer shards;

        @JsonPropertyDescription("Shards that are serving-ready (weights loaded, all peers connected).")
        public Integer readyShards;

        @JsonPropertyDescription("Starting, Ready, Outdated (serving, waiting for its turn in a rollout), Updating, Recovering (served, lost a shard, answers 503 until it is back), Pending (unschedulable: waiting for nodes or devices), Draining or Failed.")
        public String state;

        @JsonPropertyDescription("Why the group is not Ready, when it is not.")
        public String message;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class PlacementStatus {
        @JsonPropertyDescription("static or balanced.")
        public String strategy;

        @JsonPropertyDescription("Name of the ConfigMap holding the per-layer placement file.")
        public String configMap;

        @JsonPropertyDescription("Expert slots per shard: (total + redundant) / parallelism.")
        public Integer slotsPerShard;

        @JsonPropertyDescription("Mean shard load / max shard load of the configured layout under uniform expert load (1.0 is perfect), "
                + "as a decimal string.")
        public String balancedness;

        @JsonPropertyDescription("Generation of the placement in force (bumped by every rebalance; the workers export it as "
                + "nuri_placement_generation).")
        public Long generation;

        @JsonPropertyDescription("Balancedness of the groups' measured expert load (mean over max shard load, averaged over MoE layers) "
                + "under the placement before the last rebalance, as a decimal string.")
        public String balancednessBefore;

        @JsonPropertyDescription("The same load under the placement the last rebalance rolled out (predicted), as a decimal string.")
        public String balancednessAfter;

        @JsonPropertyDescription("When the last rebalance was rolled out to every ready group (RFC 3339).")
        public String lastRebalanceTime;

        @JsonPropertyDescription("The rebalancer's last decision in words.")
        public String message;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class CapacityStatus {
        @JsonPropertyDescription("Estimated weight bytes one shard holds (non-expert weights plus its expert slots).")
        public String estimatedPerShard;

        @JsonPropertyDescription("Device memory one shard has (devices per shard times memory per device).")
        public String availablePerShard;

        @JsonPropertyDescription("Whether the estimate fits.")
        public Boolean fits;
    }
}
