package dev.nuri.worker.api;

import dev.nuri.worker.engine.EngineFailure;
import dev.nuri.worker.engine.GenerationListener;
import dev.nuri.worker.engine.SequenceOutput;
import dev.nuri.worker.engine.TokenLogprob;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import dev.nuri.worker.tools.ToolCall;
import dev.nuri.worker.tools.ToolCallFormat;
import dev.nuri.worker.tools.ToolCallStream;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.logging.Logger;

/**
 * Turns one request's engine outputs into an OpenAI response: SSE chunks ending in {@code data: [DONE]}, or one JSON
 * body when every choice has finished. Engine callbacks hop onto the request's Vert.x context; nothing here blocks.
 *
 * <p>The engine does not wait for the client, so a client that stops reading a stream would make the server hold
 * everything generated for it (about 13 MB for n=16 with 20 logprobs). Past the socket's write queue, at most
 * {@code maxUnsentBytes} more are queued; then the request is aborted: generation cancelled, connection reset.
 */
final class ResponseStream implements GenerationListener {
    private static final Logger LOG = Logger.getLogger(ResponseStream.class.getName());
    private final Context context;
    private final HttpServerResponse response;
    private final ParsedRequest request;
    private final ModelTokenizer tokenizer;
    private final String id;
    private final String model;
    private final long created = System.currentTimeMillis() / 1000;
    private final Choice[] choices;
    private final int promptTokens;
    private final long maxUnsentBytes;
    private int unfinished;
    private boolean headersSent;
    private boolean done;
    /** Bytes written since the write queue last reported full; reset when it drains. */
    private long unsent;
    private Runnable abort = () -> {};

    private static final class Choice {
        final StringBuilder text = new StringBuilder();
        final JsonArray logprobs = new JsonArray();
        final JsonArray tokens = new JsonArray();
        final JsonArray tokenLogprobs = new JsonArray();
        final JsonArray topLogprobs = new JsonArray();
        final JsonArray textOffset = new JsonArray();
        /** vLLM's prompt_logprobs, when asked for */
        JsonArray promptLogprobs;
        /** a streamed choice of a request with tools: separates content from calls */
        ToolCallStream toolCalls;
        int callsSent;
        int completionTokens;
        String finishReason;
        boolean started;
    }

    ResponseStream(Context context, HttpServerResponse response, ParsedRequest request, ModelTokenizer tokenizer, String id, String model,
                   long maxUnsentBytes) {
        this.context = context;
        this.response = response;
        this.maxUnsentBytes = maxUnsentBytes;
        response.drainHandler(v -> unsent = 0);
        this.request = request;
        this.tokenizer = tokenizer;
        this.id = id;
        this.model = model;
        int count = request.prompts().size() * request.n();
        this.choices = new Choice[count];
        for (int i = 0; i < count; i++) {
            choices[i] = new Choice();
            if (request.tools() != null && request.stream()) choices[i].toolCalls = new ToolCallStream(request.tools().format());
        }
        this.unfinished = count;
        this.promptTokens = request.prompts().stream().mapToInt(p -> p.length).sum();
        if (request.echoTexts() != null) {
            for (int i = 0; i < count; i++) choices[i].text.append(request.echoTexts().get(i / request.n()));
        }
    }

    @Override
    public void onOutput(SequenceOutput output) {
        context.runOnContext(v -> handle(output));
    }

    @Override
    public void onFailure(EngineFailure failure) {
        context.runOnContext(v -> fail(Errors.of(failure)));
    }

    /** The client went away: stop generating. */
    void clientClosed() {
        done = true;
    }

    /** What stops the generation when the client stops reading. */
    void onAbort(Runnable abort) {
        this.abort = abort;
    }

    private void handle(SequenceOutput o) {
        if (done) return;
        Choice c = choices[o.choice()];
        c.completionTokens = o.completionTokens();
        if (o.finished()) {
            c.finishReason = o.finishReason();
            unfinished--;
        }
        if (request.stream()) {
            streamChunk(o, c);
        } else {
            if (!c.started && request.echoLogprobs()) addPromptLogprobs(c, o);
            if (!c.started && request.promptLogprobs() != null) c.promptLogprobs = vllmPromptLogprobs(o);
            c.started = true;
            int offset = c.text.length();
            c.text.append(o.text());
            for (TokenLogprob lp : o.logprobs()) addLogprob(c, lp, offset);
        }
        if (unfinished == 0) finish();
    }

    private void streamChunk(SequenceOutput o, Choice c) {
        boolean first = !c.started;
        String text = first && request.echoTexts() != null ? c.text + o.text() : o.text();
        int offset = c.text.length();
        c.text.append(o.text());
        JsonArray calls = new JsonArray();
        if (c.toolCalls != null) { // content goes out as it comes; a call once it is whole
            ToolCallStream.Delta d = c.toolCalls.add(text, o.finished());
            text = d.content();
            for (ToolCall call : d.calls()) {
                if (!request.tools().parallel() && c.callsSent > 0) break;
                calls.add(toolCallJson(call).put("index", c.callsSent++));
            }
        }
        if (text.isEmpty() && calls.isEmpty() && o.logprobs().isEmpty() && !o.finished()
                && !(first && (request.chat() || request.echoLogprobs()))) {
            return;
        }
        c.started = true;
        Choice logs = new Choice();
        if (first && request.echoLogprobs()) addPromptLogprobs(logs, o);
        for (TokenLogprob lp : o.logprobs()) addLogprob(logs, lp, offset);
        boolean hasLogprobs = !o.logprobs().isEmpty() || !logs.tokens.isEmpty();
        JsonObject choice = new JsonObject().put("index", o.choice());
        String finishReason = o.finishReason();
        if (request.chat()) {
            JsonObject delta = new JsonObject();
            if (first) delta.put("role", "assistant");
            if (!calls.isEmpty()) delta.put("tool_calls", calls);
            if (o.finished() && c.callsSent > 0) finishReason = "tool_calls";
            if (!text.isEmpty() || first) delta.put("content", text);
            choice.put("delta", delta).put("logprobs", o.logprobs().isEmpty() ? null : new JsonObject().put("content", logs.logprobs));
        } else {
            choice.put("text", text).put("logprobs", hasLogprobs ? completionLogprobs(logs) : null);
        }
        choice.put("finish_reason", finishReason);
        JsonObject chunk = envelope(request.chat() ? "chat.completion.chunk" : "text_completion").put("choices", new JsonArray().add(choice));
        if (request.includeUsage()) chunk.putNull("usage");
        writeEvent(chunk.encode());
    }

    /** A token as logprobs name it: its text, or {@code token_id:<id>} when the request asked for ids. */
    private String tokenName(int id) {
        return request.tokensAsIds() ? "token_id:" + id : tokenizer.tokenString(id);
    }

    private void addLogprob(Choice c, TokenLogprob lp, int textOffset) {
        String token = tokenName(lp.token());
        if (request.chat()) {
            JsonArray top = new JsonArray();
            for (int i = 0; i < lp.topTokens().length; i++) {
                top.add(new JsonObject().put("token", tokenName(lp.topTokens()[i])).put("logprob", lp.topLogprobs()[i])
                        .put("bytes", bytes(lp.topTokens()[i])));
            }
            c.logprobs.add(new JsonObject().put("token", token).put("logprob", lp.logprob()).put("bytes", bytes(lp.token()))
                    .put("top_logprobs", top));
        } else {
            c.tokens.add(token);
            c.tokenLogprobs.add(lp.logprob());
            JsonObject top = new JsonObject();
            // The legacy format keys by text; byte tokens that decode alike (e.g. to U+FFFD) collide.
            // Candidates come most likely first, so keep the first of each text.
            for (int i = 0; i < lp.topTokens().length; i++) {
                String text = tokenName(lp.topTokens()[i]);
                if (!top.containsKey(text)) top.put(text, lp.topLogprobs()[i]);
            }
            c.topLogprobs.add(top);
            c.textOffset.add(textOffset);
        }
    }

    /**
     * The echoed prompt's tokens ahead of the generated ones, as OpenAI's legacy completions and vLLM give them: the
     * first token has no logprob (null), offsets count the characters of the token strings before it.
     */
    private void addPromptLogprobs(Choice c, SequenceOutput o) {
        int[] prompt = request.prompts().get(o.choice() / request.n());
        int offset = 0;
        for (int i = 0; i < prompt.length; i++) {
            if (i == 0) {
                c.tokens.add(tokenName(prompt[0]));
                c.tokenLogprobs.addNull();
                c.topLogprobs.addNull();
                c.textOffset.add(0);
            } else {
                addLogprob(c, o.promptLogprobs().get(i - 1).top(request.params().logprobs()), offset);
            }
            offset += tokenizer.tokenString(prompt[i]).length();
        }
    }

    /**
     * vLLM's {@code prompt_logprobs}: null for the first prompt token, then per token an object keyed by token id
     * holding the prompt token itself and the most likely alternatives, each {@code {logprob, rank, decoded_token}}.
     */
    private JsonArray vllmPromptLogprobs(SequenceOutput o) {
        JsonArray out = new JsonArray().addNull();
        for (TokenLogprob lp : o.promptLogprobs()) {
            TokenLogprob top = lp.top(request.promptLogprobs());
            JsonObject entry = new JsonObject().put(Integer.toString(lp.token()), logprobEntry(lp.token(), lp.logprob(), lp.rank()));
            for (int i = 0; i < top.topTokens().length; i++) {
                String key = Integer.toString(top.topTokens()[i]);
                if (!entry.containsKey(key)) entry.put(key, logprobEntry(top.topTokens()[i], top.topLogprobs()[i], i + 1));
            }
            out.add(entry);
        }
        return out;
    }

    private JsonObject logprobEntry(int token, float logprob, int rank) {
        return new JsonObject().put("logprob", logprob).put("rank", rank).put("decoded_token", tokenizer.decode(new int[] {token}, false));
    }

    private static JsonObject toolCallJson(ToolCall call) {
        return new JsonObject().put("id", call.id()).put("type", "function")
                .put("function", new JsonObject().put("name", call.name()).put("arguments", call.arguments()));
    }

    private JsonArray bytes(int token) {
        JsonArray a = new JsonArray();
        for (byte b : tokenizer.bytes(token)) a.add(b & 0xff);
        return a;
    }

    private static JsonObject completionLogprobs(Choice c) {
        return new JsonObject().put("tokens", c.tokens).put("token_logprobs", c.tokenLogprobs).put("top_logprobs", c.topLogprobs)
                .put("text_offset", c.textOffset);
    }

    private JsonObject envelope(String object) {
        return new JsonObject().put("id", id).put("object", object).put("created", created).put("model", model);
    }

    private JsonObject usage() {
        int completion = 0;
        for (Choice c : choices) completion += c.completionTokens;
        return new JsonObject().put("prompt_tokens", promptTokens).put("completion_tokens", completion)
                .put("total_tokens", promptTokens + completion);
    }

    private void finish() {
        done = true;
        if (request.stream()) {
            if (request.includeUsage()) {
                writeEvent(envelope(request.chat() ? "chat.completion.chunk" : "text_completion")
                        .put("choices", new JsonArray()).put("usage", usage()).encode());
            }
            writeEvent("[DONE]");
            response.end();
            return;
        }
        JsonArray out = new JsonArray();
        for (int i = 0; i < choices.length; i++) {
            Choice c = choices[i];
            JsonObject choice = new JsonObject().put("index", i);
            if (request.chat()) {
                JsonObject message = new JsonObject().put("role", "assistant").put("content", c.text.toString());
                if (request.tools() != null) {
                    ToolCallFormat.Parsed parsed = request.tools().format().parse(c.text.toString());
                    if (!parsed.calls().isEmpty()) {
                        JsonArray calls = new JsonArray();
                        for (ToolCall call : request.tools().parallel() ? parsed.calls() : parsed.calls().subList(0, 1)) {
                            calls.add(toolCallJson(call));
                        }
                        message.put("content", parsed.content()).put("tool_calls", calls);
                        c.finishReason = "tool_calls";
                    }
                }
                choice.put("message", message)
                        .put("logprobs", request.params().wantsLogprobs() ? new JsonObject().put("content", c.logprobs) : null);
            } else {
                choice.put("text", c.text.toString()).put("logprobs", request.params().wantsLogprobs() ? completionLogprobs(c) : null);
                if (request.promptLogprobs() != null) choice.put("prompt_logprobs", c.promptLogprobs);
            }
            out.add(choice.put("finish_reason", c.finishReason));
        }
        JsonObject body = envelope(request.chat() ? "chat.completion" : "text_completion").put("choices", out).put("usage", usage());
        // vLLM puts a chat request's prompt logprobs beside the choices: there is one prompt however many choices
        if (request.chat() && request.promptLogprobs() != null) body.put("prompt_logprobs", choices[0].promptLogprobs);
        response.putHeader("Content-Type", "application/json").end(body.encode());
    }

    private void writeEvent(String data) {
        if (!headersSent) {
            headersSent = true;
            response.setChunked(true).putHeader("Content-Type", "text/event-stream").putHeader("Cache-Control", "no-cache");
        }
        Buffer event = Buffer.buffer("data: " + data + "\n\n");
        response.write(event);
        if (!response.writeQueueFull()) return;
        unsent += event.length();
        if (unsent > maxUnsentBytes && !done) {
            done = true;
            LOG.warning("request " + id + ": the client stopped reading; aborted with " + unsent
                    + " bytes queued past the socket's write queue (--http-stream-buffer-bytes " + maxUnsentBytes + ")");
            abort.run();
            response.reset();
        }
    }

    private void fail(ApiException error) {
        if (done || response.ended() || response.closed()) return;
        done = true;
        if (headersSent) { // the status line is gone: report in-band, as vLLM does
            writeEvent(error.toJson().encode());
            writeEvent("[DONE]");
            response.end();
        } else {
            Errors.send(response, error);
        }
    }
}
