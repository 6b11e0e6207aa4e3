package dev.nuri.worker.api;

import dev.nuri.worker.engine.SamplingParams;
import dev.nuri.worker.structured.SchemaCompiler;
import dev.nuri.worker.structured.StructuredOutput;
import dev.nuri.worker.structured.TokenAutomaton;
import dev.nuri.worker.tokenizer.ChatTemplate;
import dev.nuri.worker.tokenizer.ModelTokenizer;
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

    RequestParser(ModelTokenizer tokenizer, ChatTemplate chatTemplate, String modelName, int contextLength, int defaultChatMaxTokens,
                  StructuredOutput structured) {
        this.tokenizer = tokenizer;
        this.structured = structured;
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
        return new ParsedRequest(false, prompts, echoTexts, n, params, stream, includeUsage(f, stream), promptLogprobs);
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
        List<Map<String, Object>> rendered = messages(messages);
        long contentChars = 0;
        for (Map<String, Object> m : rendered) contentChars += ((String) m.get("content")).length();
        if (contentChars > maxPromptChars) throw promptTooLong(contentChars, "messages");
        Boolean addGenerationPrompt = f.bool("add_generation_prompt");
        String text;
        try {
            text = chatTemplate.render(rendered, addGenerationPrompt == null || addGenerationPrompt);
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
        SamplingParams params = constrained(f, sampling(f, maxTokens, Boolean.TRUE.equals(logprobs) ? (top == null ? 0 : top) : -1,
                promptLogprobs == null ? -1 : promptLogprobs));
        boolean stream = Boolean.TRUE.equals(f.bool("stream"));
        return new ParsedRequest(true, prompts, null, n(f), params, stream, includeUsage(f, stream), promptLogprobs);
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
            if (m.getValue("name") instanceof String name) msg.put("name", name);
            if (m.containsKey("tool_calls") || m.containsKey("tool_call_id")) {
                throw ApiException.unsupported(where, "tool calls are not supported by this server");
            }
            out.add(msg);
        }
        return out;
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

    private int[] tokenIds(JsonArray a, String param) {
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
        if (longest + requested > contextLength) {
            throw new ApiException(400, "invalid_request_error", param, "context_length_exceeded",
                    "This model's maximum context length is " + contextLength + " tokens, but you requested "
                    + (longest + requested) + " tokens (" + longest + " in the prompt, " + requested
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
        int shortest = automaton.shortestOutput();
        if (params.maxTokens() < shortest) {
            throw ApiException.badRequest(f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", "the shortest output that "
                    + "satisfies response_format takes up to " + shortest + " tokens, more than the " + params.maxTokens()
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
        JsonArray tools = f.has("tools") ? f.array("tools") : null;
        if (tools != null && !tools.isEmpty()) throw ApiException.unsupported("tools", "tool calling is not supported by this server");
        if (f.has("functions")) throw ApiException.unsupported("functions", "function calling is not supported by this server");
        Object toolChoice = f.raw("tool_choice");
        if (toolChoice != null && !"none".equals(toolChoice) && !"auto".equals(toolChoice)) {
            throw ApiException.unsupported("tool_choice", "tool calling is not supported by this server");
        }
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
