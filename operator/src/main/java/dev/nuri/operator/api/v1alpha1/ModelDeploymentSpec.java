package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;

@JsonInclude(JsonInclude.Include.NON_NULL)
// On spec rather than on the field: an absent accelerator means cpu, and a rule on the field would
// not run when the field is added.
@ValidationRule(value = "(has(self.accelerator) && has(self.accelerator.profile) ? self.accelerator.profile : 'cpu') == "
        + "(has(oldSelf.accelerator) && has(oldSelf.accelerator.profile) ? oldSelf.accelerator.profile : 'cpu')",
        message = "spec.accelerator.profile is immutable: moving between accelerator families changes nodes, "
                + "runtime and weight layout at once; create a new ModelDeployment",
        fieldPath = ".accelerator.profile", reason = "FieldValueForbidden")
// On spec: the bound is another section's field, or its default when that is unset.
@ValidationRule(value = "!has(self.batch) || !has(self.batch.stepTokens) || self.batch.stepTokens <= "
        + "(has(self.serving) && has(self.serving.maxBatchedTokens) ? self.serving.maxBatchedTokens : "
        + ServingSpec.DEFAULT_MAX_BATCHED_TOKENS + ")",
        message = "spec.batch.stepTokens must be at most spec.serving.maxBatchedTokens (" + ServingSpec.DEFAULT_MAX_BATCHED_TOKENS
                + " when unset): no engine step carries more tokens than that",
        fieldPath = ".batch.stepTokens")
public class ModelDeploymentSpec {

    public static final int DEFAULT_REPLICAS = 1;

    @Required
    @JsonPropertyDescription("The model to serve: its served name, architecture, where its weights come from and their format.")
    public ModelSpec model;

    @Required
    @JsonPropertyDescription("How the routed experts are spread over the shards of each group.")
    public ExpertsSpec experts;

    @SpecReplicas
    @Default("" + DEFAULT_REPLICAS)
    @Min(0)
    @JsonPropertyDescription("Number of expert-parallel groups. Each group is a full copy of the model on "
            + "experts.parallelism pods. The scale subresource (kubectl scale, HPA, KEDA) drives this field; "
            + "groups are added and removed whole.")
    public Integer replicas;

    @JsonPropertyDescription("The accelerator each shard runs on. Defaults to the cpu profile.")
    public AcceleratorSpec accelerator;

    @JsonPropertyDescription("CPU and memory requests and limits of each shard pod. Accelerator devices are "
            + "added from spec.accelerator; do not list them here.")
    public ResourceRequirements resources;

    @JsonPropertyDescription("Where the shards run: node selection, tolerations, packing of a group and spreading of groups.")
    public SchedulingSpec scheduling;

    @JsonPropertyDescription("The OpenAI-compatible API the workers serve.")
    public ServingSpec serving;

    @JsonPropertyDescription("How a change to the pod template is rolled out, group by group.")
    public RolloutSpec rollout;

    @JsonPropertyDescription("Worker container image. Defaults to the image the operator was configured with.")
    public String image;

    @JsonPropertyDescription("The OpenAI Files and Batch API (/v1/files, /v1/batches): where each shard keeps its state.")
    public BatchSpec batch;

    @JsonPropertyDescription("The built-in SLO-aware autoscaler. Leave it off when an HPA or KEDA drives the scale subresource.")
    public AutoscalingSpec autoscaling;

    // Defaulted views of the spec. The API server fills a nested default only where its parent
    // object is present, so an absent section reads here as an empty one with every default.
    // Not bean getters: Jackson and the CRD generator see only the fields.

    /** Groups wanted. */
    public int replicas() {
        return replicas != null ? replicas : DEFAULT_REPLICAS;
    }

    public AcceleratorSpec accelerator() {
        return accelerator != null ? accelerator : new AcceleratorSpec();
    }

    public SchedulingSpec scheduling() {
        return scheduling != null ? scheduling : new SchedulingSpec();
    }

    public ServingSpec serving() {
        return serving != null ? serving : new ServingSpec();
    }

    public RolloutSpec rollout() {
        return rollout != null ? rollout : new RolloutSpec();
    }

    /** Absent means off, like enabled: false. */
    public AutoscalingSpec autoscaling() {
        return autoscaling != null ? autoscaling : new AutoscalingSpec();
    }
}
