package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A Mixture-of-Experts model served by groups of expert-parallel pods. Each group holds a full
 * copy of the model with its routed experts spread over {@code spec.experts.parallelism} shards.
 */
@Group(ModelDeployment.GROUP)
@Version(ModelDeployment.VERSION)
@Kind("ModelDeployment")
@Plural("modeldeployments")
@Singular("modeldeployment")
@ShortNames("md")
@AdditionalPrinterColumn(name = "Ready", jsonPath = ".status.readyGroups",
        getDescription = "Serving-ready groups / desired groups")
@AdditionalPrinterColumn(name = "Shards", jsonPath = ".spec.experts.parallelism",
        type = AdditionalPrinterColumn.Type.INTEGER, getDescription = "Shards per group")
@AdditionalPrinterColumn(name = "Accelerator", jsonPath = ".spec.accelerator.profile")
@AdditionalPrinterColumn(name = "Model", jsonPath = ".spec.model.name")
@AdditionalPrinterColumn(name = "Status", jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
        getDescription = "The Ready condition")
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp",
        type = AdditionalPrinterColumn.Type.DATE)
public class ModelDeployment extends CustomResource<ModelDeploymentSpec, ModelDeploymentStatus>
        implements Namespaced {
    public static final String GROUP = "serving.nuri.dev";
    public static final String VERSION = "v1alpha1";

    // Overridden only to give kubectl explain a description of spec and status.
    @Override
    @JsonPropertyDescription("What the user wants served and how.")
    public ModelDeploymentSpec getSpec() {
        return super.getSpec();
    }

    @Override
    @JsonPropertyDescription("What the operator observed, written only by the operator.")
    public ModelDeploymentStatus getStatus() {
        return super.getStatus();
    }
}
