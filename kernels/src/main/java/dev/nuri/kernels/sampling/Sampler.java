package dev.nuri.kernels.sampling;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/** Picks the next token from logits; also log-probabilities for logprobs / top_logprobs (teacher distillation). */
public final class Sampler {
    private Sampler() {}

    /** One of the most likely tokens: its id and log-probability under the unmodified distribution. */
    public record Candidate(int token, float logprob) {}

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /** Greedy when p.temperature() is 0; else temperature, then top-k, then top-p (nucleus), then a draw from rng. */
    public static int sample(float[] logits, SamplerSettings p, RandomGenerator rng) {
        if (p.greedy()) return argmax(logits);
        int v = logits.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        // descending by logit, ties by lower id, so the kept set does not depend on sort stability
        Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int keep = p.topK() > 0 ? Math.min(p.topK(), v) : v;
        double max = logits[order[0]] / p.temperature();
        double[] prob = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            prob[i] = Math.exp(logits[order[i]] / p.temperature() - max);
            sum += prob[i];
        }
        if (p.topP() < 1f) {
            double cum = 0;
            int n = 0;
            while (n < keep) {
                cum += prob[n] / sum;
                n++;
                if (cum >= p.topP()) break;
            }
            keep = n;
            sum = 0;
            for (int i = 0; i < keep; i++) sum += prob[i];
        }
        double r = rng.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            r -= prob[i];
            if (r < 0) return order[i];
        }
        return order[keep - 1];
    }

    /** log softmax(logits), computed in double for the normaliser. */
    public static float[] logSoftmax(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float x : logits) max = Math.max(max, x);
        double sum = 0;
        for (float x : logits) sum += Math.exp(x - max);
        float logZ = (float) (max + Math.log(sum));
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
        return out;
    }

    /** The n most likely tokens with their log-probabilities, most likely first (ties: lower id first). */
    public static Candidate[] topLogprobs(float[] logits, int n) {
        float[] lp = logSoftmax(logits);
        n = Math.min(n, lp.length);
        int[] top = new int[n];
        Arrays.fill(top, -1);
        for (int i = 0; i < lp.length; i++) {
            int pos = n;
            while (pos > 0 && (top[pos - 1] == -1 || lp[top[pos - 1]] < lp[i])) pos--;
            if (pos >= n) continue;
            System.arraycopy(top, pos, top, pos + 1, n - pos - 1);
            top[pos] = i;
        }
        Candidate[] out = new Candidate[n];
        for (int i = 0; i < n; i++) out[i] = new Candidate(top[i], lp[top[i]]);
        return out;
    }
}
