package dev.nuri.kernels.ops;

import dev.nuri.kernels.weights.DType;
import java.lang.foreign.MemorySegment;
import dev.nuri.kernels.weights.Tensor;
import dev.nuri.kernels.weights.WeightFormatException;

/**
 * A [rows, cols] weight (Hugging Face {@code Linear.weight} layout: out_features × in_features) in one of
 * the supported element types. Two primitives per type — a row dot product (GEMV) and a row-chunk
 * dequantisation (which lets one tiled F32 kernel serve every type in GEMM, the dequantisation
 * amortised over the batch).
 */
public abstract sealed class WeightMatrix permits F32Matrix, Bf16Matrix, F16Matrix, Fp8BlockMatrix, Q8Matrix {
    /**
     * From two tokens on a product goes through {@link Gemm}, which streams the weight once for all tokens;
     * n GEMVs would stream it n times.
     */
    static final int GEMM_MIN_TOKENS = 2;

    protected final int rows;
    protected final int cols;

    protected WeightMatrix(int rows, int cols) {
        this.rows = rows;
        this.cols = cols;
    }

    public static WeightMatrix of(Tensor t) {
        return of(t, null);
    }

    /** {@code scaleInv}: DeepSeek's per-128×128-block {@code weight_scale_inv} for FP8 weights, else null. */
    public static WeightMatrix of(Tensor t, Tensor scaleInv) {
        if (t.rank() != 2) throw new WeightFormatException("tensor '" + t.name() + "' should be 2-D, is " + t);
        int r = Math.toIntExact(t.shape()[0]);
        int c = Math.toIntExact(t.shape()[1]);
        return switch (t.dtype()) {
            case F32 -> new F32Matrix(r, c, t.data());
            case BF16 -> new Bf16Matrix(r, c, t.data());
            case F16 -> new F16Matrix(r, c, t.data());
            case F8_E4M3 -> {
                if (scaleInv == null) {
                    throw new WeightFormatException("FP8 tensor '" + t.name() + "' has no companion '"
                            + t.name() + "_scale_inv' (DeepSeek 128×128 block scales)");
                }
                yield new Fp8BlockMatrix(r, c, t.data(), scaleInv);
            }
            case Q8_0 -> throw new WeightFormatException("Q8_0 is produced at load time, not read from files");
        };
    }

    public final int rows() {
        return rows;
    }

    public final int cols() {
        return cols;
    }

    public abstract DType dtype();

    /** Bytes read by one full pass over the weight (payload plus scales): the GEMV traffic. */
    public abstract long bytes();

    /** W[row] · x[xOff .. xOff+cols). */
    public abstract float dot(int row, float[] x, int xOff);

    /** dst[dstOff + j] = W[row][col0 + j], j < len. */
    public abstract void dequantizeRow(int row, int col0, int len, float[] dst, int dstOff);

    /**
     * res[j] = W[row] · x[xj ..] for the four offsets, reading the row once and widening each weight
     * vector once for all four: the few-token GEMM ({@link FewTokensGemm}). Only types with a cheap vector
     * load override it ({@link #hasDot4()}); the rest go through the dequantised tile of {@link Gemm}.
     */
    void dot4(int row, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        throw new UnsupportedOperationException(dtype() + " has no fused 4-token dot");
    }

    /**
     * res[4 * i + j] = W[row + i·gap] · x[xo_j ..] for four rows and four tokens; see {@link #dot4}. The rows are
     * {@code gap} apart so that each of the four row streams runs through pages of its own (see
     * Bf16Matrix.pairedRows); a row's sum does not depend on the gap.
     */
    void dot4x4(int row, int gap, float[] x, int x0, int x1, int x2, int x3, float[] res) {
        throw new UnsupportedOperationException(dtype() + " has no fused 4-token dot");
    }

    /**
     * res[4 * i + j] for j < 3 (j = 3 left as is): dot4x4 for three tokens. A type overrides it where sixteen
     * accumulators do not fit the registers (AVX2 has 16 vector registers: the 4 × 4 tile spills); the
     * override must sum in the same order as dot4x4, so the results do not depend on the group of tokens.
     */
    void dot4x3(int row, int gap, float[] x, int x0, int x1, int x2, float[] res) {
        dot4x4(row, gap, x, x0, x1, x2, x2, res);
    }

    /** res[4 * i + j] for j < 2: dot4x4 for two tokens (see {@link #dot4x3}). */
    void dot4x2(int row, int gap, float[] x, int x0, int x1, float[] res) {
        dot4x4(row, gap, x, x0, x1, x1, x1, res);
    }

    boolean hasDot4() {
        return false;
    }

    /** out[outOff + r] = W[r] · x[xOff ..] for every row, the rows spread over the kernel pool. */
    public final void matvec(float[] x, int xOff, float[] out, int outOff) {
        if (this instanceof Bf16Matrix) {
            // BF16's kernels read the token in pair order (Bf16Matrix.pairedRows): put it so once for every row range
            RowSplit.run(RowSplit.Kind.BF16_PAIRS, this, Bf16Matrix.pairOrdered(x, xOff, 1, cols), 0, 1, 1, out, outOff);
        } else {
            RowSplit.run(RowSplit.Kind.MATVEC, this, x, xOff, 1, 1, out, outOff);
        }
    }

    /** out[outOff + r] = W[r] · x[xOff ..] for rows [r0, r1); r0 is a multiple of 4. */
    void matvecRows(int r0, int r1, float[] x, int xOff, float[] out, int outOff) {
        for (int r = r0; r < r1; r++) out[outOff + r] = dot(r, x, xOff);
    }

    /** out[t*rows + r] = W[r] · x[t*cols ..] for t < n: a batch of tokens through one weight. */
    public void matmul(float[] x, int n, float[] out) {
        if (n < GEMM_MIN_TOKENS) {
            for (int t = 0; t < n; t++) matvec(x, t * cols, out, t * rows);
        } else {
            Gemm.multiply(this, x, n, out);
        }
    }

    /** This weight re-quantised to Q8_0 (blocks of 32 along a row); cols must be a multiple of 32. */
    public Q8Matrix toQ8_0() {
        return Q8Matrix.quantize(this);
    }

    /**
     * For {@code --quantization q8_0}: this weight in Q8_0 when its rows split into blocks of 32 (else itself),
     * and the pages of the checkpoint mapping it was read from given back (madvise DONTNEED through
     * {@link MemorySegment#unload()}), so the process keeps the quantised copy only, not the file's pages
     * beside it. The mapping stays valid: a later read faults the pages back in from the file.
     */
    public WeightMatrix requantizedQ8_0() {
        if (cols % Q8Matrix.BLOCK != 0) return this;
        Q8Matrix q = toQ8_0();
        releaseCheckpointPages();
        return q;
    }

    /**
     * Gives back the pages of the checkpoint mapping this weight reads, where it reads one (madvise DONTNEED through
     * {@link MemorySegment#unload()}); a later read faults them back in. A loader that re-quantises weights stored
     * side by side calls it once more after the last: reading a weight maps the file's pages around each fault
     * (the kernel's fault-around, 64 KB), which brings back the tail of the weight before it.
     */
    public void releaseCheckpointPages() {
        MemorySegment stored = stored();
        if (stored != null && stored.isMapped()) stored.unload();
    }

    /** The bytes this weight reads, where they are a slice of the checkpoint (or generated memory); else null. */
    MemorySegment stored() {
        return null;
    }
}
