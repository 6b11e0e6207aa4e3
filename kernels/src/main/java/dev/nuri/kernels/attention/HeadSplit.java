package dev.nuri.kernels.attention;

import dev.nuri.kernels.backend.KernelPool;

/**
 * Attention over the KV cache split over units of work on the {@link KernelPool}, the way {@code RowSplit} splits a
 * product over output rows: GQA's units are (row, query head) pairs, so a prefill splits over its positions and a
 * batched decode over its sequences; MLA's are query heads, each over every row. A unit is computed by one thread
 * exactly as it would be alone and writes only its own outputs, so the result does not depend on the number of
 * threads. One instance per calling thread holds the arguments and each thread keeps its own scratch, so a split
 * allocates nothing once the scratch has grown to the longest sequence.
 */
final class HeadSplit implements KernelPool.Task {
    /** The attention's work on units [u0, u1); {@code scratch} is the running thread's, to grow and keep. */
    interface Heads {
        void attend(float[] q, KvCache[] caches, int[] positions, int n, float[] out, int u0, int u1, float[][] scratch);
    }

    /** A unit's fixed cost in positions' worth of work (its softmax pass, loop set-up), so short rows still count. */
    private static final int UNIT_OVERHEAD = 8;

    private static final ThreadLocal<HeadSplit> CALLER = ThreadLocal.withInitial(HeadSplit::new);
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0], new float[0]});

    private Heads heads;
    private float[] q, out;
    private KvCache[] caches;
    private int[] positions;
    private int n;
    private int[] bounds = new int[1];

    /**
     * Runs units [0, units) of one layer's attention on the caller or spread over the pool. With {@code perRow} the
     * units are (row, head) pairs, unit u = row u / headsPerRow, and cut where the rows' summed lengths balance (a
     * causal prefill's last rows attend over the most positions); otherwise they cost the same and are cut evenly.
     * {@code bytes} is what the whole attention reads, for the pool's decision whether a split pays.
     */
    static void run(Heads heads, float[] q, KvCache[] caches, int[] positions, int n, float[] out, int units, boolean perRow,
                    long bytes) {
        KernelPool pool = KernelPool.global();
        int chunks = pool.chunks(bytes, units);
        if (chunks == 1) {
            heads.attend(q, caches, positions, n, out, 0, units, SCRATCH.get());
            return;
        }
        HeadSplit s = CALLER.get();
        if (s.bounds.length < chunks + 1) s.bounds = new int[chunks + 1];
        if (perRow) s.balance(positions, n, units / n, chunks);
        else for (int c = 0; c <= chunks; c++) s.bounds[c] = (int) ((long) units * c / chunks);
        s.heads = heads;
        s.q = q;
        s.caches = caches;
        s.positions = positions;
        s.n = n;
        s.out = out;
        try {
            pool.run(chunks, s);
        } finally {
            s.heads = null; // hold no activations or caches between layers
            s.q = null;
            s.caches = null;
            s.positions = null;
            s.out = null;
        }
    }

    @Override
    public void run(int chunk) {
        heads.attend(q, caches, positions, n, out, bounds[chunk], bounds[chunk + 1], SCRATCH.get());
    }

    /**
     * bounds[c] = the first unit whose preceding units cost at least c/chunks of the total, a unit of row t costing
     * positions[t] + 1 + {@link #UNIT_OVERHEAD}; bounds[chunks] = every unit.
     */
    private void balance(int[] positions, int n, int perRow, int chunks) {
        long total = 0;
        for (int t = 0; t < n; t++) total += (long) perRow * (positions[t] + 1 + UNIT_OVERHEAD);
        bounds[0] = 0;
        int c = 1;
        long before = 0; // cost of rows [0, t)
        for (int t = 0; t < n && c < chunks; t++) {
            long unit = positions[t] + 1 + UNIT_OVERHEAD, row = perRow * unit;
            for (long target; c < chunks && before + row >= (target = total * c / chunks); c++) {
                bounds[c] = t * perRow + (int) Math.max(0, (target - before + unit - 1) / unit);
            }
            before += row;
        }
        for (; c <= chunks; c++) bounds[c] = n * perRow;
    }
}
