package dev.nuri.worker.engine;

import java.util.List;

/**
 * What one step added to one choice of a request.
 *
 * @param text new text (may be empty while a multi-byte character or a possible stop string is held back)
 * @param tokens ids generated in this step (empty or one id)
 * @param logprobs one entry per token when requested, else empty
 * @param finishReason null until the choice ends: "stop" or "length"
 */
public record SequenceOutput(int choice, String text, int[] tokens, List<TokenLogprob> logprobs, String finishReason,
                             int promptTokens, int completionTokens) {
    public boolean finished() {
        return finishReason != null;
    }
}
