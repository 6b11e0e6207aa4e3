package dev.nuri.worker.tools;

import dev.nuri.contract.ToolCallParser;
import dev.nuri.worker.structured.JsonGrammar;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a model family writes tool calls in its output, as vLLM's {@code --tool-call-parser} knows them: where the calls
 * begin, how to read complete calls back, and the exact text of one call (for forcing it with constrained decoding).
 */
public enum ToolCallFormat {
    /** DeepSeek-V3 (and A.X K1, which inherits its tokens): one section of calls, each a fenced JSON block. */
    DEEPSEEK_V3("deepseek_v3", "<｜tool▁calls▁begin｜>") {
        private static final Pattern CALL = Pattern.compile(
                "<｜tool▁call▁begin｜>(?<type>.*?)<｜tool▁sep｜>(?<name>.*?)\\n```json\\n(?<args>.*?)\\n```<｜tool▁call▁end｜>", Pattern.DOTALL);

        @Override
        List<ToolCall> calls(String section) {
            List<ToolCall> out = new ArrayList<>();
            Matcher m = CALL.matcher(section);
            while (m.find()) {
                String args = compact(m.group("args"));
                if (args == null) break;
                out.add(new ToolCall(newId(), m.group("name").trim(), args));
            }
            return out;
        }

        @Override
        public JsonGrammar call(String name, JsonGrammar arguments) {
            return JsonGrammar.concat(List.of(start + "<｜tool▁call▁begin｜>function<｜tool▁sep｜>" + name + "\n```json\n", arguments,
                    "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
        }
    },
    /** Qwen3 / Hermes: each call a JSON object {"name", "arguments"} between {@code <tool_call>} tags. */
    HERMES("hermes", "<tool_call>") {
        private static final Pattern CALL = Pattern.compile("<tool_call>\\s*(?<json>\\{.*?})\\s*</tool_call>", Pattern.DOTALL);

        @Override
        List<ToolCall> calls(String section) {
            List<ToolCall> out = new ArrayList<>();
            Matcher m = CALL.matcher(section);
            while (m.find()) {
                ToolCall call = nameAndArguments(m.group("json"));
                if (call == null) break;
                out.add(call);
            }
            return out;
        }

        @Override
        public JsonGrammar call(String name, JsonGrammar arguments) {
            return JsonGrammar.concat(List.of(start + "\n{\"name\": " + Json.encode(name) + ", \"arguments\": ", arguments, "}\n</tool_call>"));
        }
    },
    /** Mistral: {@code [TOOL_CALLS]} then a JSON array of {"name", "arguments"} objects. */
    MISTRAL("mistral", "[TOOL_CALLS]") {
        @Override
        List<ToolCall> calls(String section) {
            String body = section.substring(start.length()).trim();
            Object parsed;
            try {
                parsed = Json.decodeValue(body);
            } catch (DecodeException e) {
                return List.of(); // not complete (or not valid) yet
            }
            List<ToolCall> out = new ArrayList<>();
            if (!(parsed instanceof JsonArray calls)) return out;
            for (Object c : calls) {
                ToolCall call = c instanceof JsonObject o ? nameAndArguments(o.encode()) : null;
                if (call == null) return List.of();
                out.add(call);
            }
            return out;
        }

        @Override
        public JsonGrammar call(String name, JsonGrammar arguments) {
            return JsonGrammar.concat(List.of(start + "[{\"name\": " + Json.encode(name) + ", \"arguments\": ", arguments, "}]"));
        }
    };

    /** Its value of {@code --tool-call-parser} (the CRD's {@code spec.serving.toolCallParser}). */
    public final String parserName;
    /** The text that opens the tool calls in an output. */
    public final String start;

    ToolCallFormat(String parserName, String start) {
        this.parserName = parserName;
        this.start = start;
    }

    public static ToolCallFormat of(ToolCallParser setting) {
        for (ToolCallFormat f : values()) if (f.parserName.equals(setting.value())) return f;
        throw new IllegalStateException("no tool call format for " + setting);
    }

    /** The complete calls in {@code section} (the text from {@link #start} on), in order. */
    abstract List<ToolCall> calls(String section);

    /** The exact text of one call of {@code name} with arguments from {@code arguments}, as the model family writes it. */
    public abstract JsonGrammar call(String name, JsonGrammar arguments);

    /** An output read back: the text before the calls (null when there is none) and the calls. */
    public record Parsed(String content, List<ToolCall> calls) {}

    /** Reads a whole output; text that only looks like the start of calls but holds none stays content. */
    public Parsed parse(String text) {
        int at = text.indexOf(start);
        if (at < 0) return new Parsed(text, List.of());
        List<ToolCall> calls = calls(text.substring(at));
        if (calls.isEmpty()) return new Parsed(text, List.of());
        String content = text.substring(0, at);
        return new Parsed(content.isBlank() ? null : content, calls);
    }

    static ToolCall nameAndArguments(String json) {
        try {
            JsonObject o = new JsonObject(json);
            if (!(o.getValue("name") instanceof String name)) return null;
            Object args = o.getValue("arguments", o.getValue("parameters"));
            String arguments = args == null ? "{}" : args instanceof String s ? s : Json.encode(args);
            return new ToolCall(newId(), name, arguments);
        } catch (DecodeException | ClassCastException e) {
            return null;
        }
    }

    /** The arguments as compact JSON, or null if they are not JSON. */
    static String compact(String json) {
        try {
            return Json.encode(Json.decodeValue(json));
        } catch (DecodeException e) {
            return null;
        }
    }

    static String newId() {
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }
}
