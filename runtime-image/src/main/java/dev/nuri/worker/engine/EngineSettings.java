package dev.nuri.worker.engine;

/**
 * @param kvCacheTokens total tokens of KV cache this shard may hold; each sequence reserves prompt + max_tokens at
 *                      admission, so a running sequence is never preempted
 * @param maxBatch most sequences admitted at once (prefilling or decoding); a larger request is admitted alone
 * @param maxWaiting requests waiting for admission before new ones get 429
 * @param prefillTokensPerStep prompt tokens prefilled between two decode steps, one sequence at a time with requests
 *                             taking turns (at least one sequence per step, so a long prompt is never starved)
 * @param contextLength most prompt + completion tokens of one sequence; at most the model's max_position_embeddings
 */
public record EngineSettings(int kvCacheTokens, int maxBatch, int maxWaiting, int prefillTokensPerStep, int contextLength) {}
