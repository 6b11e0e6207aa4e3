package dev.nuri.worker.engine;

import dev.nuri.kernels.sampling.Sampler;
import dev.nuri.kernels.sampling.SamplerSettings;

import java.util.random.RandomGenerator;

/**
 * Adapts a request's {@link SamplingParams} to the kernels' {@link Sampler} and its {@link SamplerSettings}; one per
 * sequence, holding the sequence's {@link LogitsConstraint} when the request has one.
 */
final class TokenSampler {
    private final SamplerSettings params;
    private final LogitsConstraint constraint;
    private final int maxTokens;
    private int sampled;

    TokenSampler(SamplingParams p, int maxTokens) {
        this.params = new SamplerSettings(p.temperature() <= 0 ? 0f : (float) p.temperature(),
                p.topK(), (float) p.topP());
        this.constraint = p.constraint() == null ? null : p.constraint().start();
        this.maxTokens = maxTokens;
    }

    int sample(float[] logits, RandomGenerator random) {
        float[] allowed = logits;
        if (constraint != null) {
            allowed = logits.clone(); // the caller's logits stay unmasked for logprobs
            constraint.mask(allowed, maxTokens - sampled);
        }
        int token = Sampler.sample(allowed, params, random);
        if (constraint != null) constraint.accept(token);
        sampled++;
        return token;
    }

    /** Logprobs under the model's own distribution (before temperature), as a teacher hands them out. */
    static TokenLogprob logprobs(float[] logits, int chosen, int top) {
        float[] lp = Sampler.logSoftmax(logits);
        Sampler.Candidate[] best = top == 0 ? new Sampler.Candidate[0] : Sampler.topLogprobs(logits, top);
        int[] ids = new int[best.length];
        float[] lps = new float[best.length];
        for (int i = 0; i < best.length; i++) {
            ids[i] = best[i].token();
            lps[i] = best[i].logprob();
        }
        int rank = 1;
        for (float x : lp) if (x > lp[chosen]) rank++;
        return new TokenLogprob(chosen, lp[chosen], rank, ids, lps);
    }
}
