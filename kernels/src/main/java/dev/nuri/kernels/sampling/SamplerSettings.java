package dev.nuri.kernels.sampling;

/**
 * OpenAI/vLLM-style sampling knobs. temperature 0 means greedy; topK 0 (or ≥ vocab) and topP 1 disable
 * those filters. The seed lives in the RandomGenerator the caller passes, so one request's stream is
 * reproducible whatever else the worker samples.
 */
public record SamplingParams(float temperature, int topK, float topP) {
    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f);

    public SamplingParams {
        if (temperature < 0 || Float.isNaN(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
