package dev.nuri.worker.engine;

/**
 * Limits which tokens one sequence may take next (structured output, forced tool calls). The sampler masks the logits
 * with it before every draw and tells it the token drawn; logprobs stay those of the unmasked model.
 */
public interface LogitsConstraint {
    /**
     * Sets the logits of forbidden tokens to negative infinity.
     *
     * @param remainingTokens tokens this sequence may still generate, this one included
     */
    void mask(float[] logits, int remainingTokens);

    void accept(int token);

    /** Makes a fresh constraint for each sequence of a request. */
    interface Factory {
        LogitsConstraint start();
    }
}
