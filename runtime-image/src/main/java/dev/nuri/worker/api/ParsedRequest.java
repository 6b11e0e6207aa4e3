package dev.nuri.worker.api;

import dev.nuri.worker.engine.SamplingParams;
import dev.nuri.worker.tools.ToolCallFormat;

import java.util.List;

/**
 * A validated /v1/completions or /v1/chat/completions request.
 *
 * @param promptLogprobs vLLM's {@code prompt_logprobs} (alternatives per prompt token), null when not asked for
 * @param tools how to read tool calls out of the output; null when the request has no tools or tool_choice none
 * @param tokensAsIds vLLM's {@code return_tokens_as_token_ids}: logprobs name tokens {@code token_id:<id>}, not by text
 *                    (texts of byte tokens collide; a distillation pipeline needs the ids)
 */
record ParsedRequest(boolean chat, List<int[]> prompts, List<String> echoTexts, int n, SamplingParams params,
                     boolean stream, boolean includeUsage, Integer promptLogprobs, ToolUse tools, boolean tokensAsIds) {
    /** @param parallel false: at most one call per choice is returned ({@code parallel_tool_calls: false}) */
    record ToolUse(ToolCallFormat format, boolean parallel) {}

    /** Legacy completions' echo with logprobs: the prompt's tokens scored ahead of the generated ones. */
    boolean echoLogprobs() {
        return echoTexts != null && params.wantsLogprobs();
    }
}
