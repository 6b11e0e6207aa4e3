package dev.nuri.worker.engine;

/** The chosen token's log-probability under the model (before temperature), and the most likely alternatives. */
public record TokenLogprob(int token, float logprob, int[] topTokens, float[] topLogprobs) {}
