package dev.nuri.worker.engine;

import dev.nuri.worker.support.InProcessShard;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static dev.nuri.worker.engine.KvAccountingTest.prompt;
import static dev.nuri.worker.engine.KvAccountingTest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Chunked prefill: every engine step carries the running decodes plus prompt chunks up to {@code maxBatchedTokens}, so a
 * long prompt arriving never stalls a running stream for more than one step, and is computed to the same tokens.
 */
class ChunkedPrefillTest {
    final AtomicLong clock = new AtomicLong();
    InProcessShard shard;

    @AfterEach
    void stop() {
        if (shard != null) shard.close();
    }

    @Test
    void aLongPromptIsPrefilledInChunksWhileTheRunningStreamGetsATokenEveryStep() throws Exception {
        // prefix caching off: the long prompt is run twice and must be computed both times
        shard = InProcessShard.start("--max-batched-tokens", "16", "--prefix-caching", "false");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(21);
        int[] longPrompt = prompt(random, 300);

        Recorder alone = new Recorder(clock);
        engine.submit(spec("alone", List.of(longPrompt), 1, 6, true), alone);
        await().atMost(Duration.ofSeconds(60)).until(() -> alone.finishedChoices() == 1);

        // the long prompt arrives from the stream's fifth token, on the engine's thread: polling for that token let the
        // tiny model run most of the stream's 400 tokens first on a fast machine, and the stream then ended mid-prefill
        Recorder late = new Recorder(clock);
        AtomicLong arrival = new AtomicLong(-1);
        Recorder stream = new Recorder(clock) {
            @Override
            public synchronized void onOutput(SequenceOutput output) {
                super.onOutput(output);
                if (events.size() != 5) return;
                arrival.set(events.getLast().tick());
                try {
                    engine.submit(spec("late", List.of(longPrompt), 1, 6, true), late);
                } catch (EngineRejectedException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
        engine.submit(spec("stream", List.of(prompt(random, 5)), 1, 400, true), stream);
        await().atMost(Duration.ofSeconds(120)).until(() -> late.finishedChoices() == 1 && stream.finishedChoices() == 1);

        assertThat(arrival.get()).as("the long prompt was submitted").isPositive();
        long first = late.firstTick();
        long streamTokensMeanwhile = stream.outputsBetween(arrival.get(), first);
        // 300 prompt tokens at 15 per step (16 less the stream's decode) take 20 steps, each with a token of the stream
        assertThat(streamTokensMeanwhile).as("stream tokens while the 300-token prompt was prefilled").isGreaterThanOrEqualTo(19);
        assertThat(late.tokens(0)).as("the chunked prompt's tokens").isEqualTo(alone.tokens(0));
    }

    @Test
    void aNewRequestWaitsWhileTheRunningDecodesTakeTheWholeStepBudget() throws Exception {
        // decodes count against maxBatchedTokens: with 2 streams decoding and a budget of 2, nothing is left for a prompt,
        // so a request starts only once a stream ends (as vLLM's max_num_batched_tokens; the CRD and PLACEMENT.md say so)
        shard = InProcessShard.start("--max-batched-tokens", "2");
        Engine engine = shard.shard.engine();
        SplittableRandom random = new SplittableRandom(22);
        Recorder first = new Recorder(clock), second = new Recorder(clock), late = new Recorder(clock);
        // one-token prompts: both streams start in the first step that sees them, then decode one token each a step
        engine.submit(spec("first", List.of(prompt(random, 1)), 1, 40, true), first);
        engine.submit(spec("second", List.of(prompt(random, 1)), 1, 80, true), second);
        long arrival = clock.get();
        engine.submit(spec("late", List.of(prompt(random, 1)), 1, 2, true), late);
        await().atMost(Duration.ofSeconds(120)).until(() -> late.finishedChoices() == 1 && second.finishedChoices() == 1);

        assertThat(first.lastTick()).as("the first stream still decoded when the late request arrived").isGreaterThan(arrival);
        assertThat(late.firstTick()).as("the late request's first token, after the first stream's last").isGreaterThan(first.lastTick());
    }
}
