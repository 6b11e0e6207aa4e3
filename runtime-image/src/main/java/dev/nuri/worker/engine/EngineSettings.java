package dev.nuri.worker.engine;

/**
 * @param kvCacheTokens total tokens of KV cache this shard may hold; each sequence reserves prompt + max_tokens at
 *                      admission, so a running sequence is never preempted
 * @param maxBatch most sequences decoded in one step
 * @param maxWaiting requests waiting for admission before new ones get 429
 * @param prefillTokensPerStep prompt tokens prefilled between two decode steps (at least one request always is)
 * @param contextLength most prompt + completion tokens of one sequence; at most the model's max_position_embeddings
 */
public record EngineSettings(int kvCacheTokens, int maxBatch, int maxWaiting, int prefillTokensPerStep, int contextLength) {}
