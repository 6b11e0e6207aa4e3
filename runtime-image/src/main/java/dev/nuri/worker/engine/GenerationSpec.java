package dev.nuri.worker.engine;

import java.util.List;

/** One API request: each prompt is generated {@code n} times; choice index = prompt index * n + i. */
public record GenerationSpec(String requestId, List<int[]> prompts, int n, SamplingParams params, long arrivalNanos) {
    public int choices() {
        return prompts.size() * n;
    }
}
