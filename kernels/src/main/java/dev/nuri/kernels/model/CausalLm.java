package dev.nuri.kernels.model;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.moe.ExpertShard;
import dev.nuri.kernels.moe.RoutedExperts;
import java.nio.file.Path;

/** One loaded model. */
public interface CausalLm {
    /** Parsed config.json. */
    ModelConfig config();

    /** A cache for one sequence of at most {@code maxTokens} tokens. */
    KvCache newCache(int maxTokens);

    /** Runs tokens [cache.length(), +tokens.length) of ONE sequence, appends to cache, returns logits of the LAST position (float[vocab]). */
    float[] prefill(int[] tokens, KvCache cache, RoutedExperts experts);

    /** One decode step for a batch of sequences: token i belongs to caches[i]; returns logits [batch][vocab]. The MoE layers see the whole batch at once. */
    float[][] decode(int[] tokens, KvCache[] caches, RoutedExperts experts);

    /** Computes every routed expert in-process. */
    RoutedExperts localExperts();

    /** The same, restricted to owned experts (for a shard process serving its peers). */
    ExpertShard expertShard(int[] ownedExperts);

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
