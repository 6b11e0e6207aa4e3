package dev.nuri.worker.engine;

import dev.nuri.worker.support.EngineGate;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The KV-cache reservation of a request is taken once at admission and given back exactly once, whichever way the
 * request ends (its sequences finish, the client goes away, its listener fails) and in whatever order those happen.
 * Each request is also counted exactly once in {@code request_success_total}.
 */
class KvAccountingTest {
    static final int KV_TOKENS = 512;
    static InProcessShard shard;
    static Engine engine;
    static Http http;

    @BeforeAll
    static void start() {
        // a small budget and batch, so that requests also wait for each other's reservations
        shard = InProcessShard.start("--kv-cache-tokens", Integer.toString(KV_TOKENS), "--max-batch", "8");
        engine = shard.shard.engine();
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static GenerationSpec spec(String id, List<int[]> prompts, int n, int maxTokens, boolean ignoreEos) {
        SamplingParams p = new SamplingParams(0, 1, 0, null, maxTokens, List.of(), new int[0], ignoreEos, -1, true);
        return new GenerationSpec(id, prompts, n, p, System.nanoTime());
    }

    static int[] prompt(SplittableRandom random, int length) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = random.nextInt(3, 500);
        return ids;
    }

    static double finishedRequests() {
        return http.metricWhere("nuri_request_success_total", "");
    }

    static double finishedRequests(String reason) {
        return http.metricWhere("nuri_request_success_total", "finished_reason=\"" + reason + "\"");
    }

    static double reservedKvTokens() {
        return http.metric("nuri_kv_cache_usage_perc") * KV_TOKENS;
    }

    /** Waits until every request counted so far has ended, then checks that nothing stays reserved. */
    static void assertSettled(double expectedFinished, String context) {
        await(context).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                .until(() -> finishedRequests() >= expectedFinished);
        assertThat(finishedRequests()).as("%s: every request is counted once", context).isEqualTo(expectedFinished);
        assertThat(reservedKvTokens()).as("%s: KV tokens still reserved", context).isZero();
        await(context).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> engine.runningCount() == 0 && engine.waitingCount() == 0);
    }

    @Test
    void requestsThatFinishInsidePrefillWhileTheClientLeavesReleaseTheirReservationOnce() throws Exception {
        double before = finishedRequests();
        double lengthBefore = finishedRequests("length");
        double abortBefore = finishedRequests("abort");
        SplittableRandom random = new SplittableRandom(7);
        List<AtomicReference<Generation>> handles = new ArrayList<>();
        try (EngineGate gate = EngineGate.close(engine)) {
            for (int i = 0; i < 200; i++) {
                AtomicReference<Generation> handle = new AtomicReference<>();
                // max_tokens 1: the only token comes out of prefill, and the client disconnects as it arrives
                Generation g = engine.submit(spec("one-token-" + i, List.of(prompt(random, 2 + i % 10)), 1, 1, true),
                        new Recorder(new AtomicLong()) {
                            @Override
                            public void onOutput(SequenceOutput output) {
                                super.onOutput(output);
                                engine.cancel(handle.get());
                            }
                        });
                handle.set(g);
                handles.add(handle);
            }
        }
        assertSettled(before + 201, "200 one-token requests and the gate");
        assertThat(finishedRequests("length") - lengthBefore).as("finished by length").isEqualTo(201);
        assertThat(finishedRequests("abort") - abortBefore).as("counted as aborted as well").isZero();
    }

    enum Ending {
        /** runs to its end */
        FINISH,
        /** the client goes away while it is still waiting for admission */
        CANCEL_WHILE_WAITING,
        /** the client goes away as the k-th output arrives (inside prefill or decode, possibly at the last token) */
        CANCEL_AT_OUTPUT,
        /** the client goes away from another thread, racing the engine */
        CANCEL_RACING,
        /** the listener throws at the k-th output */
        LISTENER_FAILS_AT_OUTPUT
    }

    @Test
    void budgetReturnsToZeroAfterAnyInterleavingOfFinishesCancelsAndFailures() throws Exception {
        for (long seed = 1; seed <= 40; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            double before = finishedRequests();
            int requests = random.nextInt(2, 9);
            List<Generation> generations = new ArrayList<>();
            List<Ending> endings = new ArrayList<>();
            try (EngineGate gate = EngineGate.close(engine)) {
                for (int r = 0; r < requests; r++) {
                    Ending ending = Ending.values()[random.nextInt(Ending.values().length)];
                    int at = random.nextInt(1, 8);
                    List<int[]> prompts = new ArrayList<>();
                    int promptCount = random.nextInt(1, 3);
                    for (int p = 0; p < promptCount; p++) prompts.add(prompt(random, random.nextInt(1, 40)));
                    AtomicReference<Generation> handle = new AtomicReference<>();
                    Recorder listener = new Recorder(new AtomicLong()) {
                        @Override
                        public void onOutput(SequenceOutput output) {
                            super.onOutput(output);
                            if (outputs() != at) return;
                            if (ending == Ending.CANCEL_AT_OUTPUT) engine.cancel(handle.get());
                            if (ending == Ending.LISTENER_FAILS_AT_OUTPUT) throw new IllegalStateException("listener fails at output " + at);
                        }
                    };
                    Generation g = engine.submit(spec("seed-" + seed + "-" + r, prompts, random.nextInt(1, 4), random.nextInt(1, 6),
                            random.nextBoolean()), listener);
                    handle.set(g);
                    generations.add(g);
                    endings.add(ending);
                    if (ending == Ending.CANCEL_WHILE_WAITING) engine.cancel(g);
                }
            }
            for (int r = 0; r < requests; r++) if (endings.get(r) == Ending.CANCEL_RACING) engine.cancel(generations.get(r));
            String context = "seed " + seed + ", endings " + endings;
            assertSettled(before + requests + 1, context);
            // late disconnects of requests that have ended change nothing
            for (Generation g : generations) engine.cancel(g);
            assertThat(finishedRequests()).as(context + ", after late cancels").isEqualTo(before + requests + 1);
            assertThat(reservedKvTokens()).as(context + ", after late cancels").isZero();
        }
    }
}
