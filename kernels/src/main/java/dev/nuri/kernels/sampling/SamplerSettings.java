package dev.nuri.kernels.sampling;

/**
 * How {@link Sampler} shapes the distribution before drawing: temperature 0 means greedy; topK 0 (or ≥ vocab) and
 * topP 1 disable those filters. The seed lives in the RandomGenerator the caller passes, so one request's stream is
 * reproducible whatever else the worker samples. (The worker's per-request {@code SamplingParams} also carries the
 * seed, stop conditions and limits, and builds one of these.)
 */
public record SamplerSettings(float temperature, int topK, float topP) {
    public static final SamplerSettings GREEDY = new SamplerSettings(0f, 0, 1f);

    public SamplerSettings {
        if (temperature < 0 || Float.isNaN(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
