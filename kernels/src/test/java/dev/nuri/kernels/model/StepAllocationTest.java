package dev.nuri.kernels.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.model.GoldenModelTest.Golden;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.kernels.weights.Json;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 14: a decode step allocates what it hands out (each row's logits) and a few hidden-sized rows per pass, not
 * each layer's intermediates (projections, router scores, experts' gathered rows, gate and up products): those were
 * most of the worker's garbage at 64 concurrent sequences, and the collector kept the heap it needed as resident
 * memory. Until C2 has compiled the kernels the Vector API boxes its vectors, so the bound is awaited: the smallest
 * step seen must come under it (before, every step allocated the layers' intermediates, compiled or not).
 */
class StepAllocationTest {
    static final int ROWS = 8, STEPS_PER_PROMPT = 32;
    static final com.sun.management.ThreadMXBean THREADS = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @AfterEach
    void defaultPool() {
        KernelPool.configure(KernelPool.defaultThreads());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"qwen3moe-f32", "axk1-bf16", "deepseekv3-f32"})
    void aDecodeStepAllocatesItsLogitsAndNotEachLayersIntermediates(String name) throws Exception {
        KernelPool.configure(1); // every kernel on this thread, so that its allocation counter sees all of them
        Golden g = GoldenModelTest.golden(name);
        Map<String, Object> config = Json.parseObject(Files.readString(g.weights().resolve("config.json")));
        int hidden = ((Number) config.get("hidden_size")).intValue(), vocab = ((Number) config.get("vocab_size")).intValue();
        CausalLm model = CausalLm.load(g.weights());
        Rows rows = new Rows(model, g.prompt());

        long logits = (long) ROWS * (vocab * 4L + 16);
        long passRows = 8L * ROWS * hidden * 4; // the pass's residual stream, its normalised copy and the like
        long bound = logits + passRows + 16 * 1024;
        AtomicLong least = new AtomicLong(Long.MAX_VALUE);
        await(name + ": a warm decode step of " + ROWS + " rows allocating under " + bound + " bytes")
                .atMost(Duration.ofSeconds(20)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
                .failFast(() -> false)
                .until(() -> least.accumulateAndGet(rows.step(), Math::min) < bound);

        // the logits handed out are the caller's: later steps do not write into them, with one row or many
        float[][] kept = rows.decode();
        float[] copy = kept[ROWS - 1].clone();
        rows.decode();
        assertThat(kept[ROWS - 1]).as("a row's logits after the next step").containsExactly(copy);
        float[] one = model.decode(new int[] {1}, new KvCache[] {model.newCache(4)}, rows.experts)[0];
        float[] oneCopy = one.clone();
        model.decode(new int[] {2}, new KvCache[] {model.newCache(4)}, rows.experts);
        assertThat(one).as("a single row's logits after the next step").containsExactly(oneCopy);
    }

    /** ROWS sequences decoding greedily; their prompts are prefilled again every STEPS_PER_PROMPT steps. */
    private static final class Rows {
        final CausalLm model;
        final RoutedExperts experts;
        final int[] prompt, tokens = new int[ROWS];
        final KvCache[] caches = new KvCache[ROWS];
        int steps = STEPS_PER_PROMPT;

        Rows(CausalLm model, int[] prompt) {
            this.model = model;
            this.experts = model.localExperts();
            this.prompt = prompt;
        }

        /** Bytes this thread allocated in one decode step (the prefill, when due, is not counted). */
        long step() {
            if (steps == STEPS_PER_PROMPT) {
                for (int r = 0; r < ROWS; r++) {
                    caches[r] = model.newCache(prompt.length + STEPS_PER_PROMPT + 2);
                    model.prefill(Arrays.copyOf(prompt, prompt.length - r % 3), caches[r], experts);
                    tokens[r] = prompt[r % prompt.length];
                }
                steps = 0;
            }
            long before = THREADS.getCurrentThreadAllocatedBytes();
            float[][] logits = model.decode(tokens, caches, experts);
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            for (int r = 0; r < ROWS; r++) tokens[r] = argmax(logits[r]);
            steps++;
            return allocated;
        }

        float[][] decode() {
            step();
            return model.decode(tokens, caches, experts);
        }
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
