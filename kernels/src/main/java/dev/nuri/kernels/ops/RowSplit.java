package dev.nuri.kernels.ops;

import dev.nuri.kernels.backend.KernelPool;

/**
 * One product split over ranges of output rows on the {@link KernelPool}. Each range computes exactly what
 * the whole product computes for those rows, in the same order, so the result does not depend on the number
 * of threads (only, as anywhere, on which JIT tier ran a vector reduction). One instance per calling thread holds the arguments, so a split allocates nothing.
 */
final class RowSplit implements KernelPool.Task {
    enum Kind { MATVEC, FEW_TOKENS, BF16_PAIRS, TILE, TOKEN_LANES }

    private static final ThreadLocal<RowSplit> CALLER = ThreadLocal.withInitial(RowSplit::new);

    private Kind kind;
    private WeightMatrix w;
    private float[] x, out;
    private int xOff, outOff, n, np, chunks, align;

    /**
     * Rows [0, w.rows()) of the product, on the caller or spread over the pool. {@code xOff}/{@code outOff}
     * are the matvec offsets; {@code np} the padded token count of {@link TokenLanesGemm} (x is then xT).
     */
    static void run(Kind kind, WeightMatrix w, float[] x, int xOff, int n, int np, float[] out, int outOff) {
        int align = kind == Kind.TOKEN_LANES ? TokenLanesGemm.MR : 4;
        KernelPool pool = KernelPool.global();
        int chunks = pool.chunks(w.bytes(), (w.rows() + align - 1) / align);
        if (chunks == 1) {
            rows(kind, w, x, xOff, n, np, out, outOff, 0, w.rows());
            return;
        }
        RowSplit s = CALLER.get();
        s.kind = kind;
        s.w = w;
        s.x = x;
        s.xOff = xOff;
        s.n = n;
        s.np = np;
        s.out = out;
        s.outOff = outOff;
        s.chunks = chunks;
        s.align = align;
        try {
            pool.run(chunks, s);
        } finally {
            s.w = null; // hold no weights or activations between products
            s.x = null;
            s.out = null;
        }
    }

    @Override
    public void run(int chunk) {
        rows(kind, w, x, xOff, n, np, out, outOff, start(chunk), start(chunk + 1));
    }

    /** Chunk boundaries on multiples of {@code align} rows (the kernels' row tile). */
    private int start(int chunk) {
        int groups = (w.rows() + align - 1) / align;
        return Math.min(w.rows(), (int) ((long) groups * chunk / chunks) * align);
    }

    private static void rows(Kind kind, WeightMatrix w, float[] x, int xOff, int n, int np, float[] out, int outOff,
                             int r0, int r1) {
        switch (kind) {
            case MATVEC -> w.matvecRows(r0, r1, x, xOff, out, outOff);
            case FEW_TOKENS -> FewTokensGemm.multiplyRows(w, x, n, out, r0, r1);
            case BF16_PAIRS -> ((Bf16Matrix) w).pairedRows(x, n, out, outOff, r0, r1);
            case TILE -> Gemm.multiplyRows(w, x, n, out, r0, r1);
            case TOKEN_LANES -> TokenLanesGemm.multiplyRows(w, x, n, np, out, r0, r1);
        }
    }
}
