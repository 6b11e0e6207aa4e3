package dev.nuri.worker.engine;

import java.util.List;

/**
 * One API request: each prompt is generated {@code n} times; choice index = prompt index * n + i.
 *
 * @param background batch work (the Batch API, {@code run-batch}): admitted only when no interactive request waits,
 *                   and holding at most half of the batch's sequence slots, so interactive requests keep theirs
 */
public record GenerationSpec(String requestId, List<int[]> prompts, int n, SamplingParams params, long arrivalNanos, boolean background) {
    public GenerationSpec(String requestId, List<int[]> prompts, int n, SamplingParams params, long arrivalNanos) {
        this(requestId, prompts, n, params, arrivalNanos, false);
    }

    public int choices() {
        return prompts.size() * n;
    }
}
