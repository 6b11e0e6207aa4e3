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

    /**
     * Two requests that each reserve 60 of 100 KV tokens, with room for 8 sequences in the batch: the second waits for
     * the first to end, because the budget counts what is already admitted. Two that reserve 40 each run side by side.
     */
    @Test
    void theKvBudgetNotTheBatchLimitDecidesAdmission() throws Exception {
        shard = InProcessShard.start("--kv-cache-tokens", "100", "--max-batch", "8");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(3);
        Recorder first, second;
        try (EngineGate gate = EngineGate.close(engine)) {
            first = submit(engine, spec("first", List.of(prompt(random, 10)), 1, 50, true));
            second = submit(engine, spec("second", List.of(prompt(random, 10)), 1, 50, true));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> first.finishedChoices() == 1 && second.finishedChoices() == 1);
        assertThat(second.firstTick()).as("the second request starts only after the first has ended (60 + 60 > 100)")
                .isGreaterThan(first.lastTick());

        Recorder third, fourth;
        try (EngineGate gate = EngineGate.close(engine)) {
            third = submit(engine, spec("third", List.of(prompt(random, 10)), 1, 30, true));
            fourth = submit(engine, spec("fourth", List.of(prompt(random, 10)), 1, 30, true));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> third.finishedChoices() == 1 && fourth.finishedChoices() == 1);
        assertThat(fourth.firstTick()).as("40 + 40 fit in 100: both run in one batch").isLessThan(third.lastTick());
    }

    /**
     * A request with many prompts does not hold the engine for its whole prefill: prompts are prefilled one sequence at a
     * time within the per-step prefill budget, taking turns with the other admitted requests.
     */
    @Test
    void aConcurrentRequestIsPrefilledBetweenTheSequencesOfAMultiPromptRequest() throws Exception {
        int promptTokens = 20;
        int budget = 200; // prompt tokens per step: ten of the large request's prompts
        shard = InProcessShard.start("--prefill-tokens-per-step", Integer.toString(budget));
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
}
