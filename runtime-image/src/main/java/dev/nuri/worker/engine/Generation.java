package dev.nuri.worker.engine;

import dev.nuri.kernels.attention.KvCache;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** An admitted or waiting request inside the engine: its sequences, listener and cancellation flag. */
public final class Generation {
    final GenerationSpec spec;
    final GenerationListener listener;
    final List<Sequence> sequences = new ArrayList<>();
    volatile boolean cancelled;
    /** set under the engine's lock when the request leaves the queue for the engine */
    boolean admitted;
    /** set once, by the engine thread (or under the engine's lock while still waiting); see {@link Engine#end} */
    boolean ended;
    long admittedNanos;
    long firstTokenNanos;
    /** sequences not yet started (given to the scheduler) start at this index */
    int started;
    int unfinished;

    Generation(GenerationSpec spec, GenerationListener listener) {
        this.spec = spec;
        this.listener = listener;
    }

    /** Marks the request cancelled; {@link Engine#cancel} is how callers cancel (it also frees a waiting request's place). */
    void cancel() {
        cancelled = true;
    }

    public String requestId() {
        return spec.requestId();
    }

    /**
     * One choice: a prompt and what has been generated after it. Its tokens are the prompt followed by the generated
     * ones; the KV cache holds the first {@code cache.length()} of them, and the engine computes the rest (a prompt, a
     * prompt's remaining chunks, the last generated token, or all of them again after a preemption).
     */
    static final class Sequence {
        final Generation generation;
        final int choice;
        final int[] prompt;
        final SplittableRandom random;
        final TextOutput text;
        final TokenSampler sampler;
        final int maxTokens;
        int[] tokens;
        int tokenCount;
        /** null until first scheduled; emptied (not dropped) by a preemption */
        KvCache cache;
        int generated;
        long lastTokenNanos;
        boolean finished;
        /** Scored as the prompt is computed when asked for; handed out with the first output. */
        List<TokenLogprob> promptLogprobs = List.of();

        Sequence(Generation generation, int choice, int[] prompt, SplittableRandom random, TextOutput text, int maxTokens) {
            this.generation = generation;
            this.choice = choice;
            this.prompt = prompt;
            this.random = random;
            this.text = text;
            this.sampler = new TokenSampler(generation.spec.params(), maxTokens);
            this.maxTokens = maxTokens;
            this.tokens = java.util.Arrays.copyOf(prompt, prompt.length + Math.min(maxTokens, 16));
            this.tokenCount = prompt.length;
        }

        /** Tokens not in the KV cache yet. */
        int uncomputed() {
            return tokenCount - (cache == null ? 0 : cache.length());
        }

        void append(int token) {
            if (tokenCount == tokens.length) tokens = java.util.Arrays.copyOf(tokens, Math.max(tokenCount + 1, 2 * tokenCount));
            tokens[tokenCount++] = token;
        }

        /** The largest this sequence can grow: its prompt and every token it may generate. */
        int maxLength() {
            return prompt.length + maxTokens;
        }
    }
}
