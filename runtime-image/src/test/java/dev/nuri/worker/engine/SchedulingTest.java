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
        await().atMost(Duration.ofSeconds(10)).until(() -> engine.usedKvBlocks() == 0);

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
}
