package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.nuri.contract.ToolCallParser;

/** spec.serving.toolCallParser: the CRD's spelling of the worker's {@link ToolCallParser} (same values). */
public enum ServingToolCallParser {
    @JsonProperty("deepseek_v3") DEEPSEEK_V3(ToolCallParser.DEEPSEEK_V3),
    @JsonProperty("hermes") HERMES(ToolCallParser.HERMES),
    @JsonProperty("mistral") MISTRAL(ToolCallParser.MISTRAL);

    private final ToolCallParser setting;

    ServingToolCallParser(ToolCallParser setting) {
        this.setting = setting;
    }

    /** What the operator passes to the worker. */
    public ToolCallParser setting() {
        return setting;
    }
}
