package dev.nuri.contract;

import java.util.Locale;

/**
 * {@code NURI_TOOL_CALL_PARSER}: how the served model family writes tool calls (vLLM's {@code --tool-call-parser}).
 * The operator's CRD field {@code spec.serving.toolCallParser} takes the same values.
 */
public enum ToolCallParser {
    /** DeepSeek-V3 and A.X K1 (which inherits its tool tokens); the default. */
    DEEPSEEK_V3("deepseek_v3"),
    /** Qwen3 and Hermes: {@code <tool_call>{...}</tool_call>}. */
    HERMES("hermes"),
    /** Mistral: {@code [TOOL_CALLS][...]}. */
    MISTRAL("mistral");

    private final String value;

    ToolCallParser(String value) {
        this.value = value;
    }

    /** The spelling in the environment and the CRD. */
    public String value() {
        return value;
    }

    public static ToolCallParser parse(String v) {
        if (v == null || v.isBlank()) return DEEPSEEK_V3;
        String s = v.trim().toLowerCase(Locale.ROOT);
        for (ToolCallParser p : values()) if (p.value.equals(s)) return p;
        throw new IllegalArgumentException(ShardSetting.TOOL_CALL_PARSER.names() + " must be deepseek_v3, hermes or mistral, got '" + v + "'");
    }
}
