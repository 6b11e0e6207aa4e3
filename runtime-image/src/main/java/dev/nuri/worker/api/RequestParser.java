package dev.nuri.worker.api;

import dev.nuri.worker.engine.SamplingParams;
import dev.nuri.worker.structured.SchemaCompiler;
import dev.nuri.worker.structured.StructuredOutput;
import dev.nuri.worker.structured.TokenAutomaton;
import dev.nuri.worker.tokenizer.ChatTemplate;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.structured.JsonGrammar;
import dev.nuri.worker.tools.ToolCallFormat;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Validates request bodies and turns them into token prompts and sampling parameters. */
final class RequestParser {
    static final int MAX_N = 16;
    /**
     * Most choices (prompts × n) one request may ask for: each is a sequence with its own prefill and KV reservation, so
     * without a cap one small body (10,000 one-word prompts) would occupy the engine like 10,000 requests.
     */
    static final int MAX_CHOICES = 128;
    static final int MAX_STOP = 16;
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    private final ModelTokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final String modelName;
    private final int contextLength;
    private final int defaultChatMaxTokens;
    private final long maxPromptChars;
    private final StructuredOutput structured;
    private final ToolCallFormat toolCallFormat;

    RequestParser(ModelTokenizer tokenizer, ChatTemplate chatTemplate, String modelName, int contextLength, int defaultChatMaxTokens,
                  StructuredOutput structured, ToolCallFormat toolCallFormat) {
        this.tokenizer = tokenizer;
        this.structured = structured;
        this.toolCallFormat = toolCallFormat;
        this.chatTemplate = chatTemplate;
        this.modelName = modelName;
        this.contextLength = contextLength;
        this.defaultChatMaxTokens = defaultChatMaxTokens;
        this.maxPromptChars = maxPromptChars(contextLength, tokenizer);
    }

    /**
     * A text longer than this cannot fit the context, whatever it says: no token stands for more than the longest
     * token's bytes, and a character is at least one byte. Four times that leaves room for normalizers that shrink
     * text (NFC composes characters) so that no prompt that fits is refused. Checking it first keeps the tokenizer's
     * work (and native memory) proportional to the context instead of to what a client sends.
     */
    static long maxPromptChars(int contextLength, ModelTokenizer tokenizer) {
        return 4L * contextLength * tokenizer.longestTokenBytes();
    }

    /** Tokenizes a prompt text unless it is certainly too long for the context. */
    int[] encodePrompt(String text, boolean addSpecialTokens) {
        if (text.length() > maxPromptChars) throw promptTooLong(text.length(), "prompt");
        return tokenizer.encode(text, addSpecialTokens);
    }

    private ApiException promptTooLong(long chars, String param) {
        return new ApiException(400, "invalid_request_error", param, "context_length_exceeded", "This model's maximum context length is "
                + contextLength + " tokens, but the prompt has " + chars + " characters, more than that many tokens can hold; "
                + "shorten the prompt", null);
    }

    void checkModel(RequestFields f) {
        String model = f.string("model");
        if (model != null && !model.equals(modelName)) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                    "The model '" + model + "' does not exist; this server serves '" + modelName + "'", null);
        }
    }

    ParsedRequest completion(JsonObject body) {
        RequestFields f = new RequestFields(body);
        checkModel(f);
        rejectUnsupported(f);
        JsonArray tools = f.array("tools");
        if ((tools != null && !tools.isEmpty()) || f.has("tool_choice")) {
            throw ApiException.unsupported(tools != null ? "tools" : "tool_choice", "tools are for /v1/chat/completions");
        }
        if (f.has("suffix")) throw ApiException.unsupported("suffix", "'suffix' is not supported");
        Object prompt = f.raw("prompt");
        if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' is required");
        int n = n(f);
        checkChoices(prompt, n);
        List<int[]> prompts = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        if (prompt instanceof String s) {
            addText(prompts, texts, s);
        } else if (prompt instanceof JsonArray a && !a.isEmpty()) {
            if (a.getValue(0) instanceof Number) {
                prompts.add(tokenIds(a, "prompt"));
                texts.add(null);
            } else {
                for (Object item : a) {
                    if (item instanceof String s) addText(prompts, texts, s);
                    else if (item instanceof JsonArray ids) {
                        prompts.add(tokenIds(ids, "prompt"));
                        texts.add(null);
                    } else throw ApiException.badRequest("prompt", "'prompt' must be a string, an array of strings, or token ids");
                }
            }
        } else {
            throw ApiException.badRequest("prompt", "'prompt' must be a non-empty string, an array of strings, or token ids");
        }
        for (int[] p : prompts) {
            if (p.length == 0) throw ApiException.badRequest("prompt", "the prompt is empty");
        }
        Integer logprobs = f.integer("logprobs", 0, SamplingParams.MAX_LOGPROBS);
        boolean echo = Boolean.TRUE.equals(f.bool("echo"));
        Integer promptLogprobs = promptLogprobs(f);
        // echo (or prompt_logprobs) with max_tokens 0 scores a prompt without generating (lm-eval-harness loglikelihood), as vLLM allows
        int maxTokens = maxTokens(f, prompts, 16, "max_tokens", echo || promptLogprobs != null ? 0 : 1);
        int scored = Math.max(echo && logprobs != null ? logprobs : -1, promptLogprobs == null ? -1 : promptLogprobs);
        SamplingParams params = constrained(f, sampling(f, maxTokens, logprobs == null ? -1 : logprobs, scored));
        boolean stream = Boolean.TRUE.equals(f.bool("stream"));
        List<String> echoTexts = echo ? echoTexts(prompts, texts) : null;
        return new ParsedRequest(false, prompts, echoTexts, n, params, stream, includeUsage(f, stream), promptLogprobs, null,
                Boolean.TRUE.equals(f.bool("return_tokens_as_token_ids")));
    }

    ParsedRequest chat(JsonObject body) {
        RequestFields f = new RequestFields(body);
        checkModel(f);
        rejectUnsupported(f);
        if (chatTemplate == null) {
            throw ApiException.badRequest("messages", "this model's tokenizer_config.json has no chat_template; use /v1/completions");
        }
        JsonArray messages = f.array("messages");
        if (messages == null || messages.isEmpty()) throw ApiException.badRequest("messages", "'messages' must be a non-empty array");
        Tools tools = tools(f);
        List<Map<String, Object>> rendered = messages(messages);
        long contentChars = 0;
        for (Map<String, Object> m : rendered) contentChars += ((String) m.get("content")).length();
        if (contentChars > maxPromptChars) throw promptTooLong(contentChars, "messages");
        Boolean addGenerationPrompt = f.bool("add_generation_prompt");
        String text;
        try {
            text = chatTemplate.render(rendered, tools == null ? null : tools.forTemplate(), addGenerationPrompt == null || addGenerationPrompt);
        } catch (ChatTemplate.ChatTemplateException e) {
            throw ApiException.badRequest("messages", "the chat template rejected the messages: " + e.getMessage());
        }
        if (text.length() > maxPromptChars) throw promptTooLong(text.length(), "messages");
        int[] prompt = tokenizer.encode(text, false);
        List<int[]> prompts = List.of(prompt);
        Boolean logprobs = f.bool("logprobs");
        Integer top = f.integer("top_logprobs", 0, SamplingParams.MAX_LOGPROBS);
        if (top != null && !Boolean.TRUE.equals(logprobs)) {
            throw ApiException.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        int maxTokens = f.has("max_completion_tokens") ? maxTokens(f, prompts, -1, "max_completion_tokens", 1)
                : maxTokens(f, prompts, -1, "max_tokens", 1);
        Integer promptLogprobs = promptLogprobs(f);
        SamplingParams params = sampling(f, maxTokens, Boolean.TRUE.equals(logprobs) ? (top == null ? 0 : top) : -1,
                promptLogprobs == null ? -1 : promptLogprobs);
        params = tools != null && tools.forced() != null ? forceCall(f, params, tools) : constrained(f, params);
        boolean stream = Boolean.TRUE.equals(f.bool("stream"));
        ParsedRequest.ToolUse use = tools == null || tools.choice.equals("none") ? null
                : new ParsedRequest.ToolUse(toolCallFormat, tools.parallel);
        return new ParsedRequest(true, prompts, null, n(f), params, stream, includeUsage(f, stream), promptLogprobs, use,
                Boolean.TRUE.equals(f.bool("return_tokens_as_token_ids")));
    }

    List<Map<String, Object>> messages(JsonArray messages) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            String where = "messages[" + i + "]";
            if (!(messages.getValue(i) instanceof JsonObject m)) throw ApiException.badRequest(where, where + " must be an object");
            if (!(m.getValue("role") instanceof String role) || !ROLES.contains(role)) {
                throw ApiException.badRequest(where + ".role", where + ".role must be one of " + ROLES);
            }
            Map<String, Object> msg = new HashMap<>();
            msg.put("role", role);
            msg.put("content", content(m.getValue("content"), where + ".content"));
            Object name = m.getValue("name");
            if (name instanceof String n) msg.put("name", n);
            else if (name != null) throw ApiException.badRequest(where + ".name", where + ".name must be a string"); // was ignored
            if (m.getValue("tool_calls") != null) {
                if (!role.equals("assistant")) throw ApiException.badRequest(where + ".tool_calls", "only assistant messages carry tool_calls");
                msg.put("tool_calls", toolCalls(m.getValue("tool_calls"), where + ".tool_calls"));
            }
            if (role.equals("tool")) {
                if (!(m.getValue("tool_call_id") instanceof String id)) {
                    throw ApiException.badRequest(where + ".tool_call_id", where + ": a tool message needs 'tool_call_id' (the id of the call it answers)");
                }
                msg.put("tool_call_id", id);
            }
            out.add(msg);
        }
        return out;
    }

    /** An assistant message's earlier calls, for the template: [{id, type, function: {name, arguments (JSON text)}}]. */
    private static List<Object> toolCalls(Object value, String where) {
        if (!(value instanceof JsonArray calls)) throw ApiException.badRequest(where, where + " must be an array");
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) {
            String at = where + "[" + i + "]";
            if (!(calls.getValue(i) instanceof JsonObject call) || !(call.getValue("function") instanceof JsonObject fn)
                    || !(fn.getValue("name") instanceof String name)) {
                throw ApiException.badRequest(at, at + " must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
            }
            Object args = fn.getValue("arguments");
            String arguments = args == null ? "{}" : args instanceof String s ? s : io.vertx.core.json.Json.encode(args);
            Map<String, Object> function = new HashMap<>(Map.of("name", name, "arguments", arguments));
            Map<String, Object> plain = new HashMap<>();
            plain.put("id", call.getValue("id") instanceof String id ? id : "");
            plain.put("type", "function");
            plain.put("function", function);
            out.add(plain);
        }
        return out;
    }

    /**
     * The request's tools and tool_choice. {@code forced}: the tools one of which must be called (required: all, a named
     * function: that one), else null.
     */
    private record Tools(List<JsonObject> functions, String choice, List<JsonObject> forced, boolean parallel) {
        List<Object> forTemplate() {
            List<Object> out = new ArrayList<>();
            for (JsonObject fn : functions) out.add(plain(new JsonObject().put("type", "function").put("function", fn)));
            return out;
        }
    }

    /** JsonObject/JsonArray as the Maps and Lists a template reads. */
    private static Object plain(Object v) {
        if (v instanceof JsonObject o) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            for (String k : o.fieldNames()) m.put(k, plain(o.getValue(k)));
            return m;
        }
        if (v instanceof JsonArray a) {
            List<Object> l = new ArrayList<>();
            for (Object x : a) l.add(plain(x));
            return l;
        }
        return v;
    }

    private static final java.util.regex.Pattern FUNCTION_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static Tools tools(RequestFields f) {
        JsonArray tools = f.array("tools");
        Object choice = f.raw("tool_choice");
        Boolean parallel = f.bool("parallel_tool_calls");
        if (tools == null || tools.isEmpty()) {
            if (choice != null && !"none".equals(choice) && !"auto".equals(choice)) {
                throw ApiException.badRequest("tool_choice", "'tool_choice' " + RequestFields.describe(choice) + " needs 'tools'");
            }
            return null;
        }
        List<JsonObject> functions = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            String at = "tools[" + i + "]";
            if (!(tools.getValue(i) instanceof JsonObject tool) || !"function".equals(tool.getValue("type"))
                    || !(tool.getValue("function") instanceof JsonObject fn)) {
                throw ApiException.badRequest(at, at + " must be {\"type\": \"function\", \"function\": {\"name\", \"parameters\"}}");
            }
            if (!(fn.getValue("name") instanceof String name) || !FUNCTION_NAME.matcher(name).matches()) {
                throw ApiException.badRequest(at + ".function.name", at + ".function.name must be 1 to 64 of a-z, A-Z, 0-9, _ and -");
            }
            if (fn.getValue("parameters") != null && !(fn.getValue("parameters") instanceof JsonObject)) {
                throw ApiException.badRequest(at + ".function.parameters", at + ".function.parameters must be a JSON schema object");
            }
            for (JsonObject other : functions) {
                if (other.getString("name").equals(name)) throw ApiException.badRequest(at + ".function.name", "two tools are named '" + name + "'");
            }
            functions.add(fn);
        }
        String mode;
        List<JsonObject> forced = null;
        if (choice == null || "auto".equals(choice)) {
            mode = "auto";
        } else if ("none".equals(choice)) {
            mode = "none";
        } else if ("required".equals(choice)) {
            mode = "required";
            forced = functions;
        } else if (choice instanceof JsonObject named && "function".equals(named.getValue("type"))
                && named.getValue("function") instanceof JsonObject fn && fn.getValue("name") instanceof String name) {
            mode = "named";
            forced = functions.stream().filter(t -> t.getString("name").equals(name)).toList();
            if (forced.isEmpty()) throw ApiException.badRequest("tool_choice", "tool_choice names '" + name + "', which is not among the tools");
        } else {
            throw ApiException.badRequest("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or "
                    + "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
        return new Tools(functions, mode, forced, parallel == null || parallel);
    }

    /**
     * tool_choice required or a named function: the output is held to one call, in the model family's syntax, of one
     * of the forced tools with arguments that satisfy its parameters schema.
     */
    private SamplingParams forceCall(RequestFields f, SamplingParams params, Tools tools) {
        if (f.object("response_format") != null && !"text".equals(f.object("response_format").getValue("type"))) {
            throw ApiException.badRequest("response_format", "response_format cannot be combined with tool_choice '" + tools.choice
                    + "': the output is a tool call");
        }
        StringBuilder key = new StringBuilder("tools:" + toolCallFormat.parserName);
        for (JsonObject fn : tools.forced) key.append('|').append(fn.getString("name")).append(':').append(parameters(fn).encode());
        TokenAutomaton automaton;
        try {
            automaton = structured.grammar(key.toString(), () -> {
                List<JsonGrammar> calls = new ArrayList<>();
                for (JsonObject fn : tools.forced) {
                    calls.add(toolCallFormat.call(fn.getString("name"), SchemaCompiler.compile(parameters(fn))));
                }
                return JsonGrammar.choice(calls);
            });
        } catch (SchemaCompiler.UnsupportedSchemaException e) {
            throw ApiException.unsupported("tools", "a forced tool's parameters: " + e.getMessage());
        }
        return checkedBudget(f, params, automaton);
    }

    private static JsonObject parameters(JsonObject function) {
        JsonObject p = function.getJsonObject("parameters");
        return p == null ? new JsonObject().put("type", "object").put("properties", new JsonObject()) : p;
    }

    private static String content(Object content, String where) {
        if (content == null) return "";
        if (content instanceof String s) return s;
        if (content instanceof JsonArray parts) { // [{"type": "text", "text": "..."}]
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (!(p instanceof JsonObject part) || !"text".equals(part.getString("type")) || !(part.getValue("text") instanceof String t)) {
                    throw ApiException.unsupported(where, where + ": only text content parts are supported");
                }
                sb.append(t);
            }
            return sb.toString();
        }
        throw ApiException.badRequest(where, where + " must be a string or an array of text parts");
    }

    /** Refuses more than {@link #MAX_CHOICES} prompts × n before any prompt is tokenized. */
    private static void checkChoices(Object prompt, int n) {
        // a list of strings or of token-id lists is several prompts; a string or a flat list of ids is one
        int prompts = prompt instanceof JsonArray a && !a.isEmpty() && !(a.getValue(0) instanceof Number) ? a.size() : 1;
        if ((long) prompts * n <= MAX_CHOICES) return;
        if (prompts > MAX_CHOICES) {
            throw ApiException.badRequest("prompt", "'prompt' holds " + prompts + " prompts; one request may ask for at most "
                    + MAX_CHOICES + " choices (prompts × n); split the prompts over several requests");
        }
        throw ApiException.badRequest("n", prompts + " prompts × n " + n + " = " + prompts * n + " choices; one request may ask for at most "
                + MAX_CHOICES + " (prompts × n); lower n or split the prompts over several requests");
    }

    private void addText(List<int[]> prompts, List<String> texts, String s) {
        prompts.add(encodePrompt(s, true));
        texts.add(s);
    }

    int[] tokenIds(JsonArray a, String param) {
        int[] ids = new int[a.size()];
        for (int i = 0; i < a.size(); i++) {
            if (!(a.getValue(i) instanceof Number n) || !tokenizer.isValidId(n.intValue()) || n.doubleValue() != n.intValue()) {
                throw ApiException.badRequest(param, "token " + a.getValue(i) + " at " + param + "[" + i + "] is not a token id of this model (0.." + (tokenizer.size() - 1) + ")");
            }
            ids[i] = n.intValue();
        }
        return ids;
    }

    private List<String> echoTexts(List<int[]> prompts, List<String> texts) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(texts.get(i) != null ? texts.get(i) : tokenizer.decode(prompts.get(i), false));
        }
        return out;
    }

    private int maxTokens(RequestFields f, List<int[]> prompts, int dflt, String param, int min) {
        Integer requested = f.integer(param, min, Integer.MAX_VALUE);
        int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        if (longest >= contextLength) {
            throw new ApiException(400, "invalid_request_error", prompts.size() == 1 && f.has("messages") ? "messages" : "prompt",
                    "context_length_exceeded", "This model's maximum context length is " + contextLength
                    + " tokens, but the prompt has " + longest + " tokens; shorten the prompt", null);
        }
        if (requested == null) {
            int left = contextLength - longest;
            return dflt > 0 ? Math.min(dflt, left) : Math.min(defaultChatMaxTokens, left);
        }
        long total = (long) longest + requested; // in int, max_tokens near 2^31 wrapped negative and was served
        if (total > contextLength) {
            throw new ApiException(400, "invalid_request_error", param, "context_length_exceeded",
                    "This model's maximum context length is " + contextLength + " tokens, but you requested "
                    + total + " tokens (" + longest + " in the prompt, " + requested
                    + " for the completion); lower " + param + " or shorten the prompt", null);
        }
        return requested;
    }

    /**
     * {@code response_format}: {@code text}, {@code json_object} (any JSON object) or {@code json_schema} (its
     * {@code schema}); the output is held to it token by token (see dev.nuri.worker.structured).
     */
    private SamplingParams constrained(RequestFields f, SamplingParams params) {
        JsonObject format = f.object("response_format");
        if (format == null) return params;
        Object type = format.getValue("type");
        TokenAutomaton automaton;
        if ("text".equals(type)) {
            return params;
        } else if ("json_object".equals(type)) {
            automaton = structured.jsonObject();
        } else if ("json_schema".equals(type)) {
            if (!(format.getValue("json_schema") instanceof JsonObject spec) || !(spec.getValue("schema") instanceof JsonObject schema)) {
                throw ApiException.badRequest("response_format.json_schema",
                        "response_format of type json_schema needs 'json_schema': {\"name\": ..., \"schema\": {...}}");
            }
            try {
                automaton = structured.jsonSchema(schema);
            } catch (SchemaCompiler.UnsupportedSchemaException e) {
                throw ApiException.unsupported("response_format.json_schema.schema", e.getMessage());
            }
        } else {
            throw ApiException.badRequest("response_format.type", "response_format.type must be 'text', 'json_object' or 'json_schema', got "
                    + RequestFields.describe(type));
        }
        return checkedBudget(f, params, automaton);
    }

    private static SamplingParams checkedBudget(RequestFields f, SamplingParams params, TokenAutomaton automaton) {
        int shortest = automaton.shortestOutput();
        if (params.maxTokens() < shortest) {
            throw ApiException.badRequest(f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", "the shortest output that "
                    + "satisfies response_format (or the forced tool call) takes up to " + shortest + " tokens, more than the " + params.maxTokens()
                    + " allowed; raise the token limit");
        }
        return params.withConstraint(StructuredOutput.constraint(automaton));
    }

    /**
     * vLLM's {@code prompt_logprobs}: per prompt token its logprob, rank and this many alternatives. Streams carry only
     * generated tokens (vLLM's chat refuses it too), so a stream asking for it is refused rather than answered without.
     */
    private static Integer promptLogprobs(RequestFields f) {
        Integer k = f.integer("prompt_logprobs", 0, SamplingParams.MAX_LOGPROBS);
        if (k != null && Boolean.TRUE.equals(f.bool("stream"))) {
            throw ApiException.unsupported("prompt_logprobs", "'prompt_logprobs' is not supported with 'stream': true; "
                    + "send the request without streaming");
        }
        return k;
    }

    private SamplingParams sampling(RequestFields f, int maxTokens, int logprobs, int promptLogprobs) {
        Double temperature = f.number("temperature", 0, 2);
        Double topP = f.number("top_p", 1e-9, 1);
        Integer topK = f.integer("top_k", -1, Integer.MAX_VALUE);
        Long seed = f.longValue("seed");
        Boolean ignoreEos = f.bool("ignore_eos");
        Boolean skipSpecial = f.bool("skip_special_tokens");
        List<String> stop = stop(f);
        int[] stopIds = new int[0];
        JsonArray ids = f.array("stop_token_ids");
        if (ids != null) stopIds = tokenIds(ids, "stop_token_ids");
        return new SamplingParams(temperature == null ? 1.0 : temperature, topP == null ? 1.0 : topP,
                topK == null || topK < 0 ? 0 : topK, seed, maxTokens, stop, stopIds, Boolean.TRUE.equals(ignoreEos), logprobs,
                skipSpecial == null || skipSpecial, promptLogprobs, null);
    }

    private static List<String> stop(RequestFields f) {
        Object stop = f.raw("stop");
        if (stop == null) return List.of();
        if (stop instanceof String s) return s.isEmpty() ? List.of() : List.of(s);
        if (stop instanceof JsonArray a) {
            if (a.size() > MAX_STOP) throw ApiException.badRequest("stop", "'stop' may hold at most " + MAX_STOP + " strings");
            List<String> out = new ArrayList<>();
            for (Object o : a) {
                if (!(o instanceof String s)) throw ApiException.badRequest("stop", "'stop' must be a string or an array of strings");
                if (!s.isEmpty()) out.add(s);
            }
            return out;
        }
        throw ApiException.badRequest("stop", "'stop' must be a string or an array of strings, got " + RequestFields.describe(stop));
    }

    private static int n(RequestFields f) {
        Integer n = f.integer("n", 1, MAX_N);
        Integer bestOf = f.integer("best_of", 1, MAX_N);
        if (bestOf != null && bestOf != (n == null ? 1 : n)) {
            throw ApiException.unsupported("best_of", "'best_of' other than n is not supported");
        }
        return n == null ? 1 : n;
    }

    private static boolean includeUsage(RequestFields f, boolean stream) {
        JsonObject options = f.object("stream_options");
        if (options == null) return false;
        if (!stream) throw ApiException.badRequest("stream_options", "'stream_options' is only allowed with 'stream': true");
        Object v = options.getValue("include_usage");
        if (v != null && !(v instanceof Boolean)) {
            throw ApiException.badRequest("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
        }
        return Boolean.TRUE.equals(v);
    }

    /** Parameters a user may reasonably send that this server does not implement: refuse them rather than ignore them. */
    private static void rejectUnsupported(RequestFields f) {
        if (f.has("functions")) throw ApiException.unsupported("functions", "'functions' (deprecated by OpenAI) is not supported; use 'tools'");
        JsonObject bias = f.object("logit_bias");
        if (bias != null && !bias.isEmpty()) throw ApiException.unsupported("logit_bias", "'logit_bias' is not supported");
        for (String penalty : List.of("frequency_penalty", "presence_penalty")) {
            Double v = f.number(penalty, -2, 2);
            if (v != null && v != 0) throw ApiException.unsupported(penalty, "'" + penalty + "' other than 0 is not supported");
        }
        Double repetition = f.number("repetition_penalty", 0, 10);
        if (repetition != null && repetition != 1) {
            throw ApiException.unsupported("repetition_penalty", "'repetition_penalty' other than 1 is not supported");
        }
    }
}
