package dev.nuri.worker.api;

import dev.nuri.worker.engine.SamplingParams;

import java.util.List;

/**
 * A validated /v1/completions or /v1/chat/completions request.
 *
 * @param promptLogprobs vLLM's {@code prompt_logprobs} (alternatives per prompt token), null when not asked for
 */
record ParsedRequest(boolean chat, List<int[]> prompts, List<String> echoTexts, int n, SamplingParams params,
                     boolean stream, boolean includeUsage, Integer promptLogprobs) {
    /** Legacy completions' echo with logprobs: the prompt's tokens scored ahead of the generated ones. */
    boolean echoLogprobs() {
        return echoTexts != null && params.wantsLogprobs();
    }
}
