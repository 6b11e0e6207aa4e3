package dev.nuri.worker.engine;

import dev.nuri.worker.support.InProcessShard;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static dev.nuri.worker.engine.KvAccountingTest.prompt;
import static dev.nuri.worker.engine.KvAccountingTest.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Automatic prefix caching: full blocks of 16 tokens are found by the hash of their tokens and everything before them,
 * shared across requests, and evicted least recently used first when blocks run out; the counters are vLLM's, in tokens.
 */
class PrefixCachingTest {
    final AtomicLong clock = new AtomicLong();
    InProcessShard shard, uncached;

    @AfterEach
    void stop() {
        if (shard != null) shard.close();
        if (uncached != null) uncached.close();
    }

    List<Integer> run(InProcessShard on, int[] prompt) throws Exception {
        Recorder r = new Recorder(clock);
        on.shard.engine().submit(spec("p" + clock.get(), List.of(prompt), 1, 8, true), r);
        await().atMost(Duration.ofSeconds(60)).until(() -> r.finishedChoices() == 1);
        assertThat(r.failure).isNull();
        return r.tokens(0);
    }

    double hits() {
        return shard.http.metric("nuri_prefix_cache_hits_total");
    }

    double queries() {
        return shard.http.metric("nuri_prefix_cache_queries_total");
    }

    @Test
    void aSharedPrefixIsComputedOnceAndGivesTheSameTokens() throws Exception {
        shard = InProcessShard.start();
        uncached = InProcessShard.start("--prefix-caching", "false");
        SplittableRandom random = new SplittableRandom(11);
        int[] system = prompt(random, 100);

        double q0 = queries(), h0 = hits();
        List<Integer> first = run(shard, system);
        assertThat(queries() - q0).as("tokens looked up").isEqualTo(100);
        assertThat(hits() - h0).as("nothing cached yet").isZero();

        List<Integer> again = run(shard, system);
        assertThat(hits() - h0).as("the full blocks before the last token: 6 x 16").isEqualTo(96);
        assertThat(again).as("tokens from the cached prefix").isEqualTo(first);

        int[] sameStart = Arrays.copyOf(system, 64 + 30); // 64 shared tokens, then another question
        for (int i = 64; i < sameStart.length; i++) sameStart[i] = random.nextInt(3, 500);
        double h1 = hits();
        List<Integer> other = run(shard, sameStart);
        assertThat(hits() - h1).as("only the shared blocks").isEqualTo(64);
        assertThat(other).as("a request sharing 64 tokens, against a shard without prefix caching").isEqualTo(run(uncached, sameStart));
        assertThat(uncached.http.metric("nuri_prefix_cache_queries_total")).as("off: nothing looked up").isZero();
        assertThat(shard.shard.engine().usedKvBlocks()).as("cached blocks are free blocks").isZero();
    }

    @Test
    void cachedBlocksAreEvictedLeastRecentlyUsedFirstWhenBlocksRunOut() throws Exception {
        shard = InProcessShard.start("--kv-cache-tokens", "160"); // 10 blocks
        SplittableRandom random = new SplittableRandom(12);
        int[] a = prompt(random, 33), b = prompt(random, 33), large = prompt(random, 120);
        run(shard, a); // publishes 2 blocks (+ the one its generated tokens fill)
        run(shard, b);
        double h0 = hits();
        run(shard, a); // a is now the more recently used
        assertThat(hits() - h0).as("a is cached").isEqualTo(32);
        run(shard, large); // needs 8 of the 10 blocks: evicts b's first (freed least recently)
        double h1 = hits();
        run(shard, a);
        assertThat(hits() - h1).as("a, used last before the large request, survives").isEqualTo(32);
        double h2 = hits();
        run(shard, b);
        assertThat(hits() - h2).as("b was evicted").isZero();
    }
}
