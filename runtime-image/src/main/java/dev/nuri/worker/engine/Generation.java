package dev.nuri.worker.engine;

import dev.nuri.kernels.attention.KvCache;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** An admitted or waiting request inside the engine: its sequences, listener, KV reservation and cancellation flag. */
public final class Generation {
    final GenerationSpec spec;
    final GenerationListener listener;
    final List<Sequence> sequences = new ArrayList<>();
    final int reservedTokens;
    volatile boolean cancelled;
    /** set under the engine's lock when the KV reservation is taken */
    boolean admitted;
    /** set once, by the engine thread (or under the engine's lock while still waiting); see {@link Engine#end} */
    boolean ended;
    long admittedNanos;
    long firstTokenNanos;
    /** sequences not yet prefilled start at this index */
    int prefilled;
    int unfinished;

    Generation(GenerationSpec spec, GenerationListener listener, int reservedTokens) {
        this.spec = spec;
        this.listener = listener;
        this.reservedTokens = reservedTokens;
    }

    /** Marks the request cancelled; {@link Engine#cancel} is how callers cancel (it also frees a waiting request's place). */
    void cancel() {
        cancelled = true;
    }

    public String requestId() {
        return spec.requestId();
    }

    /** One choice: a prompt and what has been generated after it. */
    static final class Sequence {
        final Generation generation;
        final int choice;
        final int[] prompt;
        final SplittableRandom random;
        final TextOutput text;
        final TokenSampler sampler;
        final int maxTokens;
        KvCache cache;
        int generated;
        int lastToken;
        long lastTokenNanos;
        boolean finished;
        /** Scored at prefill when asked for; handed out with the first output. */
        List<TokenLogprob> promptLogprobs = List.of();

        Sequence(Generation generation, int choice, int[] prompt, SplittableRandom random, TextOutput text, int maxTokens) {
            this.generation = generation;
            this.choice = choice;
            this.prompt = prompt;
            this.random = random;
            this.text = text;
            this.sampler = new TokenSampler(generation.spec.params());
            this.maxTokens = maxTokens;
        }
    }
}
