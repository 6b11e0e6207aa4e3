package dev.nuri.kernels.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.kernels.attention.KvBlockPool;
import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.GoldenModelTest.Golden;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.kernels.sampling.Sampler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The transformers fixtures again, through the paths the engine takes: a shared pool of small blocks handed out in a
 * scrambled order (paging), prompt chunks computed in the same pass as another sequence's decode (chunked prefill), the
 * leading blocks taken from another sequence's published prefix (prefix reuse), and the cache dropped mid-generation
 * and recomputed from the tokens (preemption). Each must give exactly the greedy tokens of the plain path (one cache of
 * its own, the prompt in one pass, then one token at a time), which {@link GoldenModelTest} checks against transformers.
 */
class GoldenPagedTest {
    static final int BLOCK = 3; // small and odd, so that blocks and chunks never line up with the prompt

    /** What the engine does to one sequence. */
    record Schedule(boolean scrambledBlocks, int chunk, boolean neighbour, boolean prefixReuse, int preemptAfter) {}

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"axk1-f32", "deepseekv3-f32", "qwen3moe-f32", "mixtral-f32", "axk1-bf16", "axk1-fp8"})
    void pagingChunkingPrefixReuseAndPreemptionGiveThePlainTokens(String name) throws Exception {
        Golden g = GoldenModelTest.golden(name);
        CausalLm model = CausalLm.load(g.weights());
        RoutedExperts experts = model.localExperts();
        int[] plain = plain(model, experts, g.prompt(), g.greedy().length);
        assertThat(plain).as("plain path of " + name).containsExactly(g.greedy());

        List<Schedule> paths = List.of(
                new Schedule(true, Integer.MAX_VALUE, false, false, -1),     // paging
                new Schedule(true, 4, true, false, -1),                      // chunked prefill beside a decode
                new Schedule(true, Integer.MAX_VALUE, false, true, -1),      // prefix reuse
                new Schedule(true, Integer.MAX_VALUE, false, false, 3),      // preemption, recomputed in one pass
                new Schedule(true, 4, true, true, 2));                       // all of them at once
        for (Schedule path : paths) {
            assertThat(paged(model, experts, g.prompt(), g.greedy().length, path)).as(name + " " + path).containsExactly(plain);
        }
    }

    static int[] plain(CausalLm model, RoutedExperts experts, int[] prompt, int count) {
        KvCache c = model.newCache(prompt.length + count);
        float[] logits = model.prefill(prompt, c, experts);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = Sampler.argmax(logits);
            logits = model.decode(new int[] {out[i]}, new KvCache[] {c}, experts)[0];
        }
        return out;
    }

    static int[] paged(CausalLm model, RoutedExperts experts, int[] prompt, int count, Schedule path) {
        KvBlockPool pool = model.newBlockPool(BLOCK, 64);
        if (path.scrambledBlocks()) scramble(pool, new Random(prompt.length));
        int max = prompt.length + count;
        int hit = 0;
        if (path.prefixReuse()) {
            // another request computed the same prompt and published its full blocks, then ended
            KvCache earlier = new KvCache(pool, max);
            model.prefill(prompt, earlier, experts);
            earlier.publishFullBlocks(prompt);
            earlier.release();
        }
        KvCache cache = new KvCache(pool, max);
        if (path.prefixReuse()) {
            hit = cache.attachCachedPrefix(prompt, prompt.length - 1);
            assertThat(hit).as("prompt tokens found in the prefix cache").isEqualTo((prompt.length - 1) / BLOCK * BLOCK);
        }
        // a neighbour sequence decoding in the same passes (its own prompt: the first three tokens)
        KvCache neighbour = new KvCache(pool, 2 * max);
        int[] neighbourToken = {0};
        if (path.neighbour()) neighbourToken[0] = Sampler.argmax(model.prefill(Arrays.copyOf(prompt, 3), neighbour, experts));

        int[] tokens = Arrays.copyOf(prompt, max);
        int length = prompt.length;
        int[] out = new int[count];
        for (int generated = 0; generated < count; ) {
            float[] last = null;
            while (cache.length() < length) { // prompt, recomputation after a preemption, or the last token
                int n = Math.min(path.chunk(), length - cache.length());
                int rows = n + (path.neighbour() ? 1 : 0);
                int[] ids = new int[rows];
                KvCache[] caches = new KvCache[rows];
                boolean[] want = new boolean[rows];
                for (int i = 0; i < n; i++) {
                    ids[i] = tokens[cache.length() + i];
                    caches[i] = cache;
                }
                want[n - 1] = true;
                if (path.neighbour()) {
                    ids[n] = neighbourToken[0];
                    caches[n] = neighbour;
                    want[n] = true;
                }
                float[][] logits = model.forward(ids, caches, want, experts);
                if (path.neighbour()) neighbourToken[0] = Sampler.argmax(logits[n]);
                if (path.prefixReuse()) cache.publishFullBlocks(tokens);
                last = logits[n - 1];
            }
            out[generated] = Sampler.argmax(last);
            tokens[length++] = out[generated++];
            if (generated == path.preemptAfter()) cache.release(); // preempted: everything is recomputed
        }
        cache.release();
        neighbour.release();
        assertThat(pool.usedBlocks()).as("blocks still held").isZero();
        return out;
    }

    /** Leaves the pool's free blocks in a random order, so that a sequence's blocks are not contiguous. */
    static void scramble(KvBlockPool pool, Random random) {
        List<KvCache> singles = new ArrayList<>();
        for (int i = 0; i < pool.totalBlocks(); i++) {
            KvCache one = new KvCache(pool, 1);
            one.reserve(1);
            singles.add(one);
        }
        Collections.shuffle(singles, random);
        singles.forEach(KvCache::release);
    }
}
