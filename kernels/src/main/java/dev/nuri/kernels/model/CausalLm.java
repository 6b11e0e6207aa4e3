package dev.nuri.kernels.model;

import dev.nuri.kernels.attention.KvBlockPool;
import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.kernels.moe.RoutedExperts;
import java.nio.file.Path;

/** One loaded model. */
public interface CausalLm {
    /** Parsed config.json. */
    ModelConfig config();

    /** A cache for one sequence of at most {@code maxTokens} tokens, with a block pool of its own. */
    KvCache newCache(int maxTokens);

    /** A shard's paged KV cache: {@code blocks} blocks of {@code blockSize} positions, every layer (see {@link KvBlockPool}). */
    KvBlockPool newBlockPool(int blockSize, int blocks);

    /** Bytes of KV cache one token takes over all layers (MLA: the compressed latent and rope key only). */
    long kvCacheBytesPerToken();

    /** Runs tokens [cache.length(), +tokens.length) of ONE sequence, appends to cache, returns logits of the LAST position (float[vocab]). */
    float[] prefill(int[] tokens, KvCache cache, RoutedExperts experts);

    /**
     * One engine step over rows of several sequences: row i is the token at the next free position of caches[i] (a
     * cache listed k times gets k consecutive positions, in row order), so decodes and prompt chunks share one pass
     * through the weights. Returns logits for the rows with {@code logitsFor[i]}, null for the others.
     */
    float[][] forward(int[] tokens, KvCache[] caches, boolean[] logitsFor, RoutedExperts experts);

    /** One decode step for a batch of sequences: token i belongs to caches[i]; returns logits [batch][vocab]. The MoE layers see the whole batch at once. */
    float[][] decode(int[] tokens, KvCache[] caches, RoutedExperts experts);

    /** Computes every routed expert in-process. */
    RoutedExperts localExperts();

    /** The same, restricted to owned experts, the same set in every MoE layer (for a shard process serving its peers). */
    ExpertShard expertShard(int[] ownedExperts);

    /**
     * Restricted to owned experts per layer: {@code ownedPerLayer[layer]} (one entry per decoder layer, null for dense
     * ones). Only those (layer, expert) weights are made ready; the rest are never read.
     */
    ExpertShard expertShard(int[][] ownedPerLayer);

    /** HF layout dir: config.json + *.safetensors (+ model.safetensors.index.json). */
    static CausalLm load(Path dir) {
        return ModelLoader.load(dir, LoadOptions.DEFAULT);
    }

    static CausalLm load(Path dir, LoadOptions options) {
        return ModelLoader.load(dir, options);
    }

    /** Small deterministic generated model, no files needed: "tiny-axk1" or "tiny-qwen3moe". */
    static CausalLm builtin(String name) {
        return BuiltinModels.create(name);
    }
}
