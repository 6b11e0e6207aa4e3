package dev.nuri.kernels.ops;

import static dev.nuri.kernels.ops.VectorShapes.F;

/**
 * Horizontal sums of accumulator vectors in one fixed order, for the few-token tiles. {@code reduceLanes(ADD)}
 * leaves the order of the lanes to the implementation, and C2's intrinsic adds them in another order than the
 * Java fallback that the interpreter and C1 run; the tiles are separate methods that the JIT compiles at
 * different times, so a token computed in a group of two and the same token in a group of four could differ in
 * the last bits. The tiles store their accumulators here and add each one's lanes in order: plain float adds,
 * the same in every tier, so a (row, token) sums the same whichever tile and whichever tier computed it.
 */
final class LaneSums {
    /** Room for the 16 accumulators of the 4 rows × 4 tokens tile. */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[16 * F.length()]);

    private LaneSums() {}

    /** The calling thread's lanes buffer: accumulator k stored at {@code k * F.length()}. */
    static float[] scratch() {
        return LANES.get();
    }

    /** lanes[at] + lanes[at + 1] + … + lanes[at + F.length() - 1], added in that order. */
    static float sum(float[] lanes, int at) {
        float s = 0;
        for (int i = 0; i < F.length(); i++) s += lanes[at + i];
        return s;
    }
}
