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

    /**
     * Two-batch overlap forced on for every pass of two rows or more, with routed experts that compute only when
     * their result is waited for (as a peer's answer arrives): the prompt in one pass (cut in two micro-batches), and
     * chunks beside a neighbour's decode (each pass cut between the chunk's rows and the neighbour's), all of it
     * with preemption. Interleaving the micro-batches must not change the logits: each pass is compared with the same
     * rows run as two passes one after the other, and the tokens with the plain path's.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"axk1-f32", "deepseekv3-f32", "qwen3moe-f32", "mixtral-f32", "axk1-bf16", "axk1-fp8"})
    void twoBatchOverlapGivesThePlainTokens(String name) throws Exception {
        Golden g = GoldenModelTest.golden(name);
        CausalLm model = CausalLm.load(g.weights());
        RoutedExperts experts = model.localExperts();
        RoutedExperts overlapped = new Deferred(experts);
        int[] plain = plain(model, experts, g.prompt(), g.greedy().length);
        assertThat(plain(model, overlapped, g.prompt(), g.greedy().length)).as(name + " prompt in one overlapped pass").containsExactly(plain);
        for (Schedule path : List.of(new Schedule(false, 4, true, false, -1), new Schedule(true, 5, true, false, 2))) {
            assertThat(paged(model, overlapped, g.prompt(), g.greedy().length, path)).as(name + " " + path).containsExactly(plain);
        }

        // one pass of a prompt (cut in two) and two decoding neighbours, against its halves run one after the other
        int[] prompt = g.prompt();
        int rows = prompt.length + 2;
        KvCache a = model.newCache(rows), b = model.newCache(rows), c = model.newCache(rows);
        model.prefill(Arrays.copyOf(prompt, 2), b, experts);
        model.prefill(Arrays.copyOf(prompt, 3), c, experts);
        int[] ids = Arrays.copyOf(prompt, rows);
        ids[rows - 2] = prompt[1];
        ids[rows - 1] = prompt[2];
        KvCache[] caches = new KvCache[rows];
        Arrays.fill(caches, 0, prompt.length, a);
        caches[rows - 2] = b;
        caches[rows - 1] = c;
        boolean[] want = new boolean[rows];
        Arrays.fill(want, true);
        int[] lengths = {a.length(), b.length(), c.length()};
        float[][] together = model.forward(ids, caches, want, overlapped);
        for (KvCache k : new KvCache[] {a, b, c}) k.truncate(lengths[k == a ? 0 : k == b ? 1 : 2]);
        int half = rows / 2;
        float[][] first = model.forward(Arrays.copyOf(ids, half), Arrays.copyOf(caches, half), Arrays.copyOf(want, half), experts);
        float[][] second = model.forward(Arrays.copyOfRange(ids, half, rows), Arrays.copyOfRange(caches, half, rows),
                Arrays.copyOfRange(want, half, rows), experts);
        for (int t = 0; t < rows; t++) {
            float[] alone = t < half ? first[t] : second[t - half];
            assertThat(Sampler.argmax(together[t])).as(name + ": greedy token of row " + t + " overlapped vs its micro-batch alone")
                    .isEqualTo(Sampler.argmax(alone));
            // the same operations on the same values; not asserted bit for bit only because the JIT may compile a
            // Vector API reduction between the two runs, which then adds its lanes in another order (seen once under
            // load: the interpreter's and C2's sums differ in the last bits, as FourShardGroupTest notes)
            float worst = 0;
            for (int i = 0; i < alone.length; i++) worst = Math.max(worst, Math.abs(together[t][i] - alone[i]));
            assertThat(worst).as(name + ": largest logit difference of row " + t + " overlapped vs its micro-batch alone").isLessThan(2e-3f);
        }
    }

    /** Local experts that, like a peer, compute only when their answer is waited for; every pass of 2+ rows overlaps. */
    record Deferred(RoutedExperts local) implements RoutedExperts {
        @Override
        public void apply(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
            local.apply(layer, tokens, k, hidden, experts, weights, out);
        }

        @Override
        public Pending start(int layer, int tokens, int k, float[] hidden, int[] experts, float[] weights, float[] out) {
            return () -> local.apply(layer, tokens, k, hidden, experts, weights, out);
        }

        @Override
        public int twoBatchOverlapMinRows() {
            return 2;
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
