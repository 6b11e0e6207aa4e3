package dev.nuri.worker.engine;

/**
 * @param kvCacheBlocks blocks of KV cache this shard holds; a sequence takes blocks as its tokens are computed, and the
 *                      newest running sequence is preempted (recomputed later) when none is free
 * @param blockSize positions per KV-cache block (every layer; MLA's compressed latent included)
 * @param prefixCaching whether full blocks are shared between requests with the same leading tokens
 * @param maxBatch most sequences admitted at once (starting, running or preempted); a larger request is admitted alone
 * @param maxWaiting requests waiting for admission before new ones get 429
 * @param maxBatchedTokens tokens per engine step: every running sequence's next token, then prompt chunks up to this
 *                         total (decodes are never held back, so a step with more running sequences carries only them)
 * @param contextLength most prompt + completion tokens of one sequence; at most the model's max_position_embeddings
 * @param batchStepTokens batch (background) tokens per step while no interactive request is admitted or waiting
 */
public record EngineSettings(int kvCacheBlocks, int blockSize, boolean prefixCaching, int maxBatch, int maxWaiting,
                             int maxBatchedTokens, int contextLength, int batchStepTokens) {}
