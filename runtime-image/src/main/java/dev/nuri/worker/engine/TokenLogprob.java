package dev.nuri.worker.engine;

import java.util.Arrays;

/**
 * The chosen token's log-probability under the model (before temperature), its rank in the vocabulary (1 = most
 * likely; vLLM's definition: one more than the number of tokens strictly more likely) and the most likely
 * alternatives, most likely first.
 */
public record TokenLogprob(int token, float logprob, int rank, int[] topTokens, float[] topLogprobs) {
    /** The same with only the {@code k} most likely alternatives (a request may ask two views of one scoring). */
    public TokenLogprob top(int k) {
        if (k >= topTokens.length) return this;
        return new TokenLogprob(token, logprob, rank, Arrays.copyOf(topTokens, k), Arrays.copyOf(topLogprobs, k));
    }
}
