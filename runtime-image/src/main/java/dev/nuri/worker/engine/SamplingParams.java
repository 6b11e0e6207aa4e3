package dev.nuri.worker.engine;

import java.util.List;

/**
 * How one request samples and when its sequences stop.
 *
 * @param temperature 0 means greedy
 * @param topK 0 means no limit
 * @param seed null means a fresh random seed; choice i of a request uses seed + i
 * @param maxTokens 0 (only with echo): prefill, and score the prompt if asked, but generate nothing
 * @param logprobs -1: none; otherwise the chosen token's logprob plus this many alternatives (0..20)
 * @param promptLogprobs -1: the prompt is not scored; otherwise the logprob of every prompt token after the first, with
 *                       this many alternatives (vLLM's {@code prompt_logprobs}, and legacy completions' {@code echo}
 *                       with {@code logprobs})
 * @param constraint null, or what each sequence's tokens must follow (response_format, forced tool calls)
 */
public record SamplingParams(double temperature, double topP, int topK, Long seed, int maxTokens, List<String> stop,
                             int[] stopTokenIds, boolean ignoreEos, int logprobs, boolean skipSpecialTokens, int promptLogprobs,
                             LogitsConstraint.Factory constraint) {
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams(double temperature, double topP, int topK, Long seed, int maxTokens, List<String> stop,
                          int[] stopTokenIds, boolean ignoreEos, int logprobs, boolean skipSpecialTokens) {
        this(temperature, topP, topK, seed, maxTokens, stop, stopTokenIds, ignoreEos, logprobs, skipSpecialTokens, -1, null);
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 1, 0, null, maxTokens, List.of(), new int[0], false, -1, true);
    }

    public boolean wantsLogprobs() {
        return logprobs >= 0;
    }

    public SamplingParams withConstraint(LogitsConstraint.Factory c) {
        return new SamplingParams(temperature, topP, topK, seed, maxTokens, stop, stopTokenIds, ignoreEos, logprobs, skipSpecialTokens,
                promptLogprobs, c);
    }

    public boolean scoresPrompt() {
        return promptLogprobs >= 0;
    }
}
