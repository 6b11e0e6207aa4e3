package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Quantity;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.source.builtin) || !has(self.quantization) || self.quantization != 'q8_0'",
        message = "spec.model.quantization q8_0 needs a checkpoint; builtin models are generated in full precision",
        fieldPath = ".quantization")
@ValidationRule(value = "!has(self.quantizeLmHead) || !self.quantizeLmHead || (has(self.quantization) && self.quantization == 'q8_0')",
        message = "spec.model.quantizeLmHead needs spec.model.quantization q8_0: the output head is quantised with the rest of the model",
        fieldPath = ".quantizeLmHead")
public class ModelSpec {

    @Required
    @Pattern("^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$")
    @JsonPropertyDescription("The name clients pass as the OpenAI `model` parameter, e.g. axk1 or skt/A.X-K1.")
    public String name;

    @Required
    @ValidationRule(value = "self == oldSelf",
            message = "spec.model.architecture is immutable: a different architecture is a different model; create a new ModelDeployment")
    @JsonPropertyDescription("Model architecture, as in the checkpoint's config.json model_type. Immutable.")
    public Architecture architecture;

    @Required
    @JsonPropertyDescription("Where the weights come from. Set exactly one of pvc, hostPath, image, http, builtin.")
    public ModelSource source;

    @Default("bf16")
    @JsonPropertyDescription("Weight format the workers run: bf16, fp8 (e4m3 with 128x128 block scales, as DeepSeek ships), "
            + "or q8_0 (8-bit blocks made at load time).")
    public ModelQuantization quantization;

    @JsonPropertyDescription("With quantization q8_0: the output head (lm_head) in Q8_0 too, as llama.cpp's Q8_0 files have it: "
            + "the largest matrix a decoded token reads, in half the bytes, for logits and log-probabilities with Q8_0's error. "
            + "Default false: the head as stored, for a teacher's log-probabilities.")
    public Boolean quantizeLmHead;

    @JsonPropertyDescription("Total size of the weights, e.g. 1040Gi for A.X K1 in BF16. When set (or known for a builtin "
            + "model) the operator checks that each shard's share fits its devices' memory before creating pods.")
    public Quantity weightsSize;

    public ModelQuantization quantization() {
        return quantization != null ? quantization : ModelQuantization.BF16;
    }
}
