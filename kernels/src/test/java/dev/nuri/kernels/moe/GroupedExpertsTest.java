package dev.nuri.kernels.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.ops.Scratch;
import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A batch whose (token, slot) outputs do not fit the thread's kept buffer runs its experts in waves: each token must
 * get what it gets alone (one token's entries are one small wave), on one thread and on several.
 */
class GroupedExpertsTest {
    static final int H = 2048, INTER = 16, EXPERTS = 12, K = 4;

    @AfterEach
    void defaultPool() {
        KernelPool.configure(KernelPool.defaultThreads());
    }

    @ParameterizedTest(name = "{0} kernel threads")
    @ValueSource(ints = {1, 3})
    void aBatchInWavesGivesEachTokenWhatItGetsAlone(int threads) {
        KernelPool.configure(threads, 0);
        Random rnd = new Random(14);
        try (Arena arena = Arena.ofShared()) {
            FeedForward[] experts = new FeedForward[EXPERTS];
            for (int e = 0; e < EXPERTS; e++) {
                experts[e] = new FeedForward(matrix(arena, rnd, INTER, H), matrix(arena, rnd, INTER, H), matrix(arena, rnd, H, INTER));
            }
            GroupedExperts grouped = new GroupedExperts(new FeedForward[][] {experts});
            int maxRows = Scratch.keptFloats(Scratch.Slot.EXPERT_OUTPUTS) / H;
            int tokens = 3 * maxRows / K; // three buffers' worth of rows: at least three waves
            float[] hidden = new float[tokens * H];
            for (int i = 0; i < hidden.length; i++) hidden[i] = (float) rnd.nextGaussian();
            int[] ids = new int[tokens * K];
            float[] weights = new float[tokens * K];
            for (int t = 0; t < tokens; t++) {
                for (int s = 0; s < K; s++) {
                    ids[t * K + s] = s == K - 1 && t % 7 == 0 ? -1 : (t * 5 + s * 3) % EXPERTS; // -1: a slot left out
                    weights[t * K + s] = rnd.nextFloat();
                }
            }
            float[] batch = new float[tokens * H];
            grouped.apply(0, tokens, K, hidden, ids, weights, batch);

            float[] alone = new float[H];
            for (int t = 0; t < tokens; t += 37) {
                java.util.Arrays.fill(alone, 0f);
                grouped.apply(0, 1, K, java.util.Arrays.copyOfRange(hidden, t * H, (t + 1) * H),
                        java.util.Arrays.copyOfRange(ids, t * K, (t + 1) * K), java.util.Arrays.copyOfRange(weights, t * K, (t + 1) * K), alone);
                double worst = 0, scale = 0;
                for (int i = 0; i < H; i++) {
                    worst = Math.max(worst, Math.abs(batch[t * H + i] - alone[i]));
                    scale = Math.max(scale, Math.abs(alone[i]));
                }
                assertThat(scale).as("token " + t + " has an output").isGreaterThan(0);
                assertThat(worst / scale).as("token " + t + " of " + tokens + ", relative to its largest output").isLessThan(1e-5);
            }
        }
    }

    private static WeightMatrix matrix(Arena arena, Random rnd, int rows, int cols) {
        MemorySegment data = arena.allocate((long) rows * cols * 4);
        for (long i = 0; i < (long) rows * cols; i++) data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) rnd.nextGaussian() * 0.05f);
        return WeightMatrix.of(new Tensor("w", DType.F32, new long[] {rows, cols}, data));
    }
}
