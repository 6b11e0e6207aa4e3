package dev.nuri.worker.engine;

import dev.nuri.worker.support.EngineGate;
import dev.nuri.worker.support.InProcessShard;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.nuri.worker.engine.KvAccountingTest.prompt;
import static dev.nuri.worker.engine.KvAccountingTest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the scheduler decides when requests compete: who is admitted against the KV-cache budget, and whose prefill
 * runs next. Requests are lined up behind an {@link EngineGate} so that they meet the scheduler together, and the order
 * of their outputs is read from one shared clock.
 */
class SchedulingTest {
    final AtomicLong clock = new AtomicLong();
    InProcessShard shard;

    @AfterEach
    void stop() {
        if (shard != null) shard.close();
    }

    Recorder submit(Engine engine, GenerationSpec spec) throws EngineRejectedException {
        Recorder r = new Recorder(clock);
        engine.submit(spec, r);
        return r;
    }

    /** The tokens one request gets with the engine to itself. */
    List<Integer> alone(Engine engine, GenerationSpec spec) throws Exception {
        Recorder r = submit(engine, spec);
        await().atMost(Duration.ofSeconds(60)).until(() -> r.finishedChoices() == spec.choices());
        return r.tokens(0);
    }

    /**
     * Admission by the blocks actually needed, preemption instead of rejection. The cache holds 25 blocks of 4 tokens;
     * two requests of 10 prompt + 50 generated tokens need 15 blocks each at their longest. (Before paging each reserved
     * 60 tokens at admission and the second waited for the first to end.) Now both start at once; when blocks run out,
     * the newer one is preempted, recomputed once blocks free up, and finishes after the first, with exactly the tokens
     * each gets alone (greedy). Two requests that need 10 blocks each run side by side without a preemption.
     */
    @Test
    void bothStartAtOnceAndTheNewestIsPreemptedAndRecomputedWhenBlocksRunOut() throws Exception {
        shard = InProcessShard.start("--kv-cache-tokens", "100", "--kv-block-size", "4", "--max-batch", "8");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(3);
        GenerationSpec firstSpec = spec("first", List.of(prompt(random, 10)), 1, 50, true);
        GenerationSpec secondSpec = spec("second", List.of(prompt(random, 10)), 1, 50, true);
        List<Integer> firstAlone = alone(engine, firstSpec), secondAlone = alone(engine, secondSpec);
        double preemptionsBefore = shard.http.metric("nuri_num_preemptions_total");

        Recorder first, second;
        try (EngineGate gate = EngineGate.close(engine)) {
            first = submit(engine, firstSpec);
            second = submit(engine, secondSpec);
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> first.finishedChoices() == 1 && second.finishedChoices() == 1);
        assertThat(second.firstTick()).as("both start at once: 1 + 1 blocks needed, not 15 + 15 reserved").isLessThan(first.lastTick());
        assertThat(shard.http.metric("nuri_num_preemptions_total") - preemptionsBefore).as("preemptions when 30 blocks are needed of 25")
                .isPositive();
        assertThat(shard.http.metric("vllm:num_preemptions_total")).isEqualTo(shard.http.metric("nuri_num_preemptions_total"));
        assertThat(second.lastTick()).as("the newer request is the one preempted, so it finishes last").isGreaterThan(first.lastTick());
        assertThat(first.tokens(0)).as("first request's tokens").isEqualTo(firstAlone);
        assertThat(second.tokens(0)).as("preempted and recomputed, the second request's tokens").isEqualTo(secondAlone);
        assertThat(first.failure).isNull();
        assertThat(second.failure).isNull();
        await().atMost(Duration.ofSeconds(30)).until(() -> engine.usedKvBlocks() == 0);

        double preemptionsBetween = shard.http.metric("nuri_num_preemptions_total");
        Recorder third, fourth;
        try (EngineGate gate = EngineGate.close(engine)) {
            third = submit(engine, spec("third", List.of(prompt(random, 10)), 1, 30, true));
            fourth = submit(engine, spec("fourth", List.of(prompt(random, 10)), 1, 30, true));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> third.finishedChoices() == 1 && fourth.finishedChoices() == 1);
        assertThat(fourth.firstTick()).as("10 + 10 blocks fit in 25: both run in one batch").isLessThan(third.lastTick());
        assertThat(shard.http.metric("nuri_num_preemptions_total")).as("no preemption when everything fits").isEqualTo(preemptionsBetween);
    }

    /**
     * A request with many prompts does not hold the engine for its whole prefill: prompts are prefilled one sequence at a
     * time within the per-step prefill budget, taking turns with the other admitted requests.
     */
    @Test
    void aConcurrentRequestIsPrefilledBetweenTheSequencesOfAMultiPromptRequest() throws Exception {
        int promptTokens = 20;
        int budget = 200; // prompt tokens per step: ten of the large request's prompts
        shard = InProcessShard.start("--max-batched-tokens", Integer.toString(budget));
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(5);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 100; i++) prompts.add(prompt(random, promptTokens));
        Recorder large, small;
        try (EngineGate gate = EngineGate.close(engine)) {
            large = submit(engine, spec("large", prompts, 1, 2, true));
            small = submit(engine, spec("small", List.of(prompt(random, promptTokens)), 1, 2, true));
        }
        await().atMost(Duration.ofSeconds(120)).until(() -> large.finishedChoices() == 100 && small.finishedChoices() == 1);
        long smallFirst = small.firstTick();
        long[] largeFirsts = large.firstTokenTicks(100);
        long startedBefore = Arrays.stream(largeFirsts).filter(t -> t < smallFirst).count();
        assertThat(startedBefore).as("choices of the 100-prompt request that got their first token before the concurrent request")
                .isLessThanOrEqualTo(budget / promptTokens);
        assertThat(smallFirst).isLessThan(Arrays.stream(largeFirsts).max().orElseThrow());
    }

    /**
     * Batch work waits behind interactive requests and holds at most half of the slots: with --max-batch 2, four
     * background requests queued before an interactive one run one at a time, and the interactive request, queued last,
     * starts with the first of them instead of after all four.
     */
    @Test
    void backgroundRequestsTakeHalfTheSlotsAndInteractiveOnesGoFirst() throws Exception {
        shard = InProcessShard.start("--max-batch", "2");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(5);
        List<Recorder> background = new ArrayList<>();
        Recorder interactive;
        try (EngineGate gate = EngineGate.close(engine)) {
            for (int i = 0; i < 4; i++) {
                GenerationSpec s = spec("batch-" + i, List.of(prompt(random, 6)), 1, 8, true);
                background.add(submit(engine, new GenerationSpec(s.requestId(), s.prompts(), 1, s.params(), s.arrivalNanos(), true)));
            }
            interactive = submit(engine, spec("interactive", List.of(prompt(random, 6)), 1, 8, true));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> interactive.finishedChoices() == 1
                && background.stream().allMatch(r -> r.finishedChoices() == 1));
        assertThat(interactive.firstTick()).as("the interactive request starts before the second batch request")
                .isLessThan(background.get(1).firstTick());
        for (int i = 1; i < 4; i++) {
            assertThat(background.get(i).firstTick()).as("batch request " + i + " starts after batch request " + (i - 1) + " ended")
                    .isGreaterThan(background.get(i - 1).lastTick());
        }
    }

    /**
     * Batch rows do not lengthen an interactive request's steps: while interactive work is admitted or waiting, a step
     * carries at most one batch row (none in a step with interactive prompt tokens), so two batch requests admitted
     * with an interactive one get at most one token between two of its tokens instead of one each; once it has ended,
     * both batch requests decode side by side again.
     */
    @Test
    void whileInteractiveWorkRunsBatchRowsGetAtMostOneTokenAStep() throws Exception {
        shard = InProcessShard.start("--max-batch", "8");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(7);
        List<Recorder> background = new ArrayList<>();
        Recorder interactive;
        int interactiveTokens = 16;
        try (EngineGate gate = EngineGate.close(engine)) {
            for (int i = 0; i < 2; i++) {
                GenerationSpec s = spec("batch-" + i, List.of(prompt(random, 6)), 1, 40, true);
                background.add(submit(engine, new GenerationSpec(s.requestId(), s.prompts(), 1, s.params(), s.arrivalNanos(), true)));
            }
            interactive = submit(engine, spec("interactive", List.of(prompt(random, 6)), 1, interactiveTokens, true));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> interactive.finishedChoices() == 1
                && background.stream().allMatch(r -> r.finishedChoices() == 1));
        long first = interactive.firstTick(), last = interactive.lastTick();
        long batchOutputs = background.stream().mapToLong(r -> r.outputsBetween(first, last)).sum();
        assertThat(batchOutputs).as("batch tokens between the interactive request's first and last token (%d steps)", interactiveTokens - 1)
                .isLessThanOrEqualTo(interactiveTokens - 1);
        assertThat(background.get(1).firstTick()).as("with the interactive request gone, both batch requests decode together")
                .isLessThan(background.get(0).lastTick());
        assertThat(interactive.failure).isNull();
    }

    /**
     * Batch work runs in short steps even when nothing interactive runs, so that an interactive request arriving
     * meanwhile waits behind a short step: with --batch-step-tokens 4, eight batch requests queued together (48 prompt
     * tokens, which one step would otherwise carry whole) never share a step more than four at a time.
     */
    @Test
    void batchStepsCarryAtMostTheBatchStepTokensEvenWithNoInteractiveWork() throws Exception {
        shard = InProcessShard.start("--max-batch", "16", "--batch-step-tokens", "4");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(11);
        List<Recorder> background = new ArrayList<>();
        double stepsBefore = stepsOfAtMostFiveSequences(), allBefore = steps();
        try (EngineGate gate = EngineGate.close(engine)) {
            for (int i = 0; i < 8; i++) background.add(submit(engine, batch("batch-" + i, prompt(random, 6), 3)));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> background.stream().allMatch(r -> r.finishedChoices() == 1));
        double steps = steps() - allBefore;
        assertThat(steps - (stepsOfAtMostFiveSequences() - stepsBefore)).as("steps with more than 5 sequences, of %s", steps).isZero();
        assertThat(steps).as("steps for 8 x (6 prompt + 2 computed) tokens, 4 at a time (the gate's included)").isGreaterThanOrEqualTo(16);
        for (Recorder r : background) assertThat(r.failure).isNull();
    }

    double steps() {
        return shard.http.metric("nuri_engine_batch_size_count");
    }

    double stepsOfAtMostFiveSequences() {
        return shard.http.metricWhere("nuri_engine_batch_size_bucket", "le=\"5.0\"");
    }

    static GenerationSpec batch(String id, int[] prompt, int maxTokens) {
        GenerationSpec s = spec(id, List.of(prompt), 1, maxTokens, true);
        return new GenerationSpec(s.requestId(), s.prompts(), 1, s.params(), s.arrivalNanos(), true);
    }

    /**
     * Batch sequences never hold the slots interactive requests need: with --max-batch 4 and two batch requests
     * running, four interactive requests that arrive are all admitted at once (before, only the two slots the batch
     * left were free, and the other two waited for the first ones to end).
     */
    @Test
    void interactiveRequestsAreAdmittedWhateverSlotsBatchWorkHolds() throws Exception {
        shard = InProcessShard.start("--max-batch", "4");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(13);
        Holding first = new Holding(clock, 2);
        Recorder second;
        try (EngineGate gate = EngineGate.close(engine)) {
            engine.submit(batch("batch-0", prompt(random, 6), 60), first);
            second = submit(engine, batch("batch-1", prompt(random, 6), 60));
        }
        first.awaitHeld(); // the engine thread is inside the first batch request's second token
        List<Recorder> interactive = new ArrayList<>();
        for (int i = 0; i < 4; i++) interactive.add(submit(engine, spec("interactive-" + i, List.of(prompt(random, 6)), 1, 8, true)));
        first.release();
        await().atMost(Duration.ofSeconds(60)).until(() -> interactive.stream().allMatch(r -> r.finishedChoices() == 1)
                && first.finishedChoices() == 1 && second.finishedChoices() == 1);
        for (int i = 1; i < 4; i++) {
            assertThat(interactive.get(i).firstTick()).as("interactive request %d starts before the first one ends", i)
                    .isLessThan(interactive.get(0).lastTick());
        }
        assertThat(first.failure).isNull();
        assertThat(second.failure).isNull();
    }

    /**
     * An interactive request that arrives while batch sequences hold the KV cache takes their blocks and runs its
     * prefill in the very next step, with no batch rows in it: the engine is held after two batch requests' 14th tokens
     * (they then hold 10 of the 12 blocks), an interactive one needing 3 blocks arrives, and its first
     * token comes before the batch requests' next one. Both batch requests still finish (the preempted one recomputed).
     */
    @Test
    void anInteractiveArrivalTakesTheBlocksOfBatchWorkAndPrefillsInTheNextStep() throws Exception {
        shard = InProcessShard.start("--kv-cache-tokens", "48", "--kv-block-size", "4", "--max-batch", "8");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(17);
        Recorder first;
        Holding second = new Holding(clock, 14); // the second row of the step: the step's last output
        try (EngineGate gate = EngineGate.close(engine)) {
            first = submit(engine, batch("batch-0", prompt(random, 6), 40));
            engine.submit(batch("batch-1", prompt(random, 6), 40), second);
        }
        second.awaitHeld();
        long held = clock.get();
        Recorder interactive = submit(engine, spec("interactive", List.of(prompt(random, 12)), 1, 4, true));
        second.release();
        await().atMost(Duration.ofSeconds(60)).until(() -> interactive.finishedChoices() == 1
                && first.finishedChoices() == 1 && second.finishedChoices() == 1);
        long batchOutputsBefore = first.outputsBetween(held, interactive.firstTick()) + second.outputsBetween(held, interactive.firstTick());
        assertThat(batchOutputsBefore).as("batch tokens between the interactive arrival and its first token").isZero();
        assertThat(first.tokens(0)).hasSize(40);
        assertThat(second.tokens(0)).hasSize(40);
        assertThat(interactive.failure).isNull();
        assertThat(first.failure).isNull();
        assertThat(second.failure).isNull();
    }

    /** A recorder that holds the engine thread inside its {@code holdAt}-th output until released. */
    static final class Holding extends Recorder {
        final int holdAt;
        final CountDownLatch held = new CountDownLatch(1), released = new CountDownLatch(1);

        Holding(AtomicLong clock, int holdAt) {
            super(clock);
            this.holdAt = holdAt;
        }

        @Override
        public void onOutput(SequenceOutput output) {
            super.onOutput(output);
            if (outputs() != holdAt) return;
            held.countDown();
            try {
                if (!released.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void awaitHeld() throws InterruptedException {
            assertThat(held.await(60, TimeUnit.SECONDS)).as("the engine reached output " + holdAt).isTrue();
        }

        void release() {
            released.countDown();
        }
    }
}
