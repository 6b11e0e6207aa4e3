package dev.nuri.worker.engine;

import java.util.List;

/**
 * What one step added to one choice of a request.
 *
 * @param text new text (may be empty while a multi-byte character or a possible stop string is held back)
 * @param tokens ids generated in this step (empty or one id)
 * @param logprobs one entry per token when requested, else empty
 * @param finishReason null until the choice ends: "stop" or "length"
 * @param promptLogprobs in a choice's first output when asked for: prompt tokens 1.. (the first has none), else empty
 */
public record SequenceOutput(int choice, String text, int[] tokens, List<TokenLogprob> logprobs, String finishReason,
                             int promptTokens, int completionTokens, List<TokenLogprob> promptLogprobs) {
    public SequenceOutput(int choice, String text, int[] tokens, List<TokenLogprob> logprobs, String finishReason,
                          int promptTokens, int completionTokens) {
        this(choice, text, tokens, logprobs, finishReason, promptTokens, completionTokens, List.of());
    }

    public boolean finished() {
        return finishReason != null;
    }
}
