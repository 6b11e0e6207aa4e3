package dev.nuri.worker.group;

import dev.nuri.contract.ShardSetting;
import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Four shard processes with the default BF16 wire format, four experts each. */
class FourShardGroupTest {
    static InProcessShard reference;
    static GroupFixture group;

    @BeforeAll
    static void start() {
        reference = InProcessShard.start();
        group = new GroupFixture(4, Map.of());
    }

    @AfterAll
    static void stop() {
        if (group != null) group.close();
        if (reference != null) reference.close();
    }

    @Test
    void everyShardGivesTheUnshardedGreedyTokens() {
        // BF16 rounding of the dispatched vectors changes logits slightly; on these prompts the greedy tokens agree
        // with the F32 single process for (at least) the first 16 tokens (measured; see docs/benchmarks.md).
        double[] servedForPeers = new double[4];
        for (int s = 0; s < 4; s++) servedForPeers[s] = expertCallsForPeers(s);
        for (String prompt : List.of("Hello, world", "안녕하세요, 오늘 날씨가")) {
            String expected = GroupFixture.tokensAndText(reference.http.post("/v1/completions", GroupFixture.greedy(prompt, 16)));
            for (int s = 0; s < 4; s++) {
                assertThat(GroupFixture.tokensAndText(group.http(s).post("/v1/completions", GroupFixture.greedy(prompt, 16))))
                        .as("shard %d", s).isEqualTo(expected);
            }
        }
        // Same tokens could also come from a shard computing every expert itself: prove the experts really ran
        // on their owners, for tokens that other shards dispatched.
        for (int s = 0; s < 4; s++) {
            assertThat(expertCallsForPeers(s)).as("expert calls shard %d served for its peers", s).isGreaterThan(servedForPeers[s]);
        }
    }

    private static double expertCallsForPeers(int shard) {
        return group.http(shard).metricWhere("nuri_moe_expert_compute_seconds_count", "tokens_from=\"peer\"");
    }

    /**
     * {@code NURI_KERNEL_THREADS=1 ./mvnw ... -Dtest=FourShardGroupTest} runs this class with the kernel pool off:
     * every shard process must run its kernels on the threads asked for, not only the test JVM.
     */
    @Test
    void everyShardRunsItsKernelsOnTheThreadsThisTestRunAsksFor() {
        String asked = System.getenv(ShardSetting.KERNEL_THREADS.env());
        String expected = asked != null ? asked + " threads (" + ShardSetting.KERNEL_THREADS.env() + ")"
                : KernelPool.defaultThreads() + " threads (the CPUs this container may use)";
        for (int s = 0; s < 4; s++) {
            assertThat(group.log(s)).as("shard %d's log", s).contains("shard " + s + ": kernels on " + expected);
        }
        if (asked != null) assertThat(KernelPool.global().threads()).as("the in-process reference").isEqualTo(Integer.parseInt(asked));
    }

    @Test
    void concurrentStreamsOnAllShards() {
        List<CompletableFuture<Http.Response>> calls = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            Http http = group.http(i % 4);
            JsonObject body = new JsonObject().put("prompt", "stream " + i).put("max_tokens", 16).put("stream", true).put("seed", i);
            calls.add(CompletableFuture.supplyAsync(() -> http.post("/v1/completions", body)));
        }
        for (CompletableFuture<Http.Response> c : calls) {
            Http.Response r = c.join();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.events().getLast()).isEqualTo("[DONE]");
        }
        assertThat(group.http(0).metric("nuri_moe_balancedness")).isBetween(0.3, 1.0);
    }

    record Answer(List<Object> tokens, List<Double> logprobs) {}

    static Answer answer(Http.Response r) {
        if (r.status() != 200) throw new AssertionError("status " + r.status() + ": " + r.body());
        JsonObject logprobs = r.json().getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs");
        return new Answer(logprobs.getJsonArray("tokens").getList(),
                logprobs.getJsonArray("token_logprobs").stream().map(x -> ((Number) x).doubleValue()).toList());
    }

    /**
     * At temperature 0 the answer must not depend on which shard took the request. With the home shard's own partial
     * expert sum added first (and computed from vectors that never crossed the BF16 wire) the sum differed from one home
     * shard to another, and so did the tokens: "Hello, world" on shard 1 left shard 0's answer at token 33.
     */
    @Test
    void theSameGreedyRequestGivesTheSameTokensWhicheverShardTakesIt() {
        for (String prompt : List.of("Hello, world", "안녕하세요, 오늘 날씨가", "Expert parallelism sends each token",
                "The quick brown fox jumps over the lazy dog, and then")) {
            Answer onShard0 = answer(group.http(0).post("/v1/completions", GroupFixture.greedy(prompt, 48)));
            for (int s = 1; s < 4; s++) {
                Answer other = answer(group.http(s).post("/v1/completions", GroupFixture.greedy(prompt, 48)));
                assertThat(other.tokens()).as("prompt %s sent to shard %d, against shard 0", prompt, s).isEqualTo(onShard0.tokens());
                // not bit for bit: each process's JIT reduces Vector API lanes in its own order until C2 compiles the
                // kernel, and where that last bit tips a near-tie of this random model's top-8 routing a token's logprob
                // moves by a few 1e-3 (2.3e-4 typical here, 2.02e-3 once in CI; with every shard on C1 still 6e-4, so
                // it is not only C2). The bug this guards against diverged in the tokens themselves.
                for (int i = 0; i < other.logprobs().size(); i++) {
                    assertThat(other.logprobs().get(i)).as("logprob %d of prompt %s on shard %d", i, prompt, s)
                            .isCloseTo(onShard0.logprobs().get(i), within(1e-2));
                }
            }
        }
    }
}
