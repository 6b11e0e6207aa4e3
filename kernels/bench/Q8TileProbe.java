// Probe for the Q8_0 few-token tile idea of docs/benchmarks.md ("Q8_0 GEMV on AVX2: what the Vector API allows",
// issue 14): main's 4 rows x 2 tokens tile (every weight vector scaled) against per-block sums scaled once per
// block (blk: products added; blkf: an FMA chain), interleaved in one process, by the thread's CPU time.
// Not part of the build:
//   java --add-modules jdk.incubator.vector kernels/bench/Q8TileProbe.java ROWS COLS MIB ROUNDS
import java.lang.foreign.*;
import java.lang.management.*;
import java.nio.ByteOrder;
import java.util.*;
import jdk.incubator.vector.*;

public class Q8TileProbe {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    static final int BLOCK = 32;
    static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    static void cur(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, int x0, int x1, float[] out) {
        int gap = rows / 4; int step = 8;
        for (int row = 0; row < gap; row++) {
        long g = (long) gap * cols, q0 = qOff + (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = sOff + row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int c = 0; c < cols; c += step) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + c), v1 = FloatVector.fromArray(F, x, x1 + c);
            FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scales[s0 + (c >>> 5)]);
            c00 = w.fma(v0, c00); c01 = w.fma(v1, c01);
            w = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scales[s1 + (c >>> 5)]);
            c10 = w.fma(v0, c10); c11 = w.fma(v1, c11);
            w = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scales[s2 + (c >>> 5)]);
            c20 = w.fma(v0, c20); c21 = w.fma(v1, c21);
            w = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0)).mul(scales[s3 + (c >>> 5)]);
            c30 = w.fma(v0, c30); c31 = w.fma(v1, c31);
        }
        out[row * 2] = c00.reduceLanes(VectorOperators.ADD) + c01.reduceLanes(VectorOperators.ADD) + c10.reduceLanes(VectorOperators.ADD) + c11.reduceLanes(VectorOperators.ADD)
          + c20.reduceLanes(VectorOperators.ADD) + c21.reduceLanes(VectorOperators.ADD) + c30.reduceLanes(VectorOperators.ADD) + c31.reduceLanes(VectorOperators.ADD);
        }
    }

    // per block: rows one after another, 4 weight vectors widened, each token's block sum then one FMA by the scale
    static void blk(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, int x0, int x1, float[] out) {
        int gap = rows / 4;
        for (int row = 0; row < gap; row++) {
        long g = (long) gap * cols, q0 = qOff + (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = sOff + row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int b = 0; b < nb; b++) {
            int c = b * BLOCK;
            FloatVector w0, w1, w2, w3, d;
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s0 + b]);
            c00 = w0.mul(FloatVector.fromArray(F, x, x0 + c)).add(w1.mul(FloatVector.fromArray(F, x, x0 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x0 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x0 + c + 24)))).fma(d, c00);
            c01 = w0.mul(FloatVector.fromArray(F, x, x1 + c)).add(w1.mul(FloatVector.fromArray(F, x, x1 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x1 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x1 + c + 24)))).fma(d, c01);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s1 + b]);
            c10 = w0.mul(FloatVector.fromArray(F, x, x0 + c)).add(w1.mul(FloatVector.fromArray(F, x, x0 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x0 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x0 + c + 24)))).fma(d, c10);
            c11 = w0.mul(FloatVector.fromArray(F, x, x1 + c)).add(w1.mul(FloatVector.fromArray(F, x, x1 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x1 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x1 + c + 24)))).fma(d, c11);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s2 + b]);
            c20 = w0.mul(FloatVector.fromArray(F, x, x0 + c)).add(w1.mul(FloatVector.fromArray(F, x, x0 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x0 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x0 + c + 24)))).fma(d, c20);
            c21 = w0.mul(FloatVector.fromArray(F, x, x1 + c)).add(w1.mul(FloatVector.fromArray(F, x, x1 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x1 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x1 + c + 24)))).fma(d, c21);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s3 + b]);
            c30 = w0.mul(FloatVector.fromArray(F, x, x0 + c)).add(w1.mul(FloatVector.fromArray(F, x, x0 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x0 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x0 + c + 24)))).fma(d, c30);
            c31 = w0.mul(FloatVector.fromArray(F, x, x1 + c)).add(w1.mul(FloatVector.fromArray(F, x, x1 + c + 8))).add(w2.mul(FloatVector.fromArray(F, x, x1 + c + 16)).add(w3.mul(FloatVector.fromArray(F, x, x1 + c + 24)))).fma(d, c31);
        }
        out[row * 2] = c00.reduceLanes(VectorOperators.ADD) + c01.reduceLanes(VectorOperators.ADD) + c10.reduceLanes(VectorOperators.ADD) + c11.reduceLanes(VectorOperators.ADD)
          + c20.reduceLanes(VectorOperators.ADD) + c21.reduceLanes(VectorOperators.ADD) + c30.reduceLanes(VectorOperators.ADD) + c31.reduceLanes(VectorOperators.ADD);
        }
    }
    // per block with fma chains (mul then fma, fma, fma)
    static void blkf(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, int x0, int x1, float[] out) {
        int gap = rows / 4;
        for (int row = 0; row < gap; row++) {
        long g = (long) gap * cols, q0 = qOff + (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = sOff + row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int b = 0; b < nb; b++) {
            int c = b * BLOCK;
            FloatVector w0, w1, w2, w3, d;
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s0 + b]);
            c00 = w3.fma(FloatVector.fromArray(F, x, x0 + c + 24), w2.fma(FloatVector.fromArray(F, x, x0 + c + 16), w1.fma(FloatVector.fromArray(F, x, x0 + c + 8), w0.mul(FloatVector.fromArray(F, x, x0 + c))))).fma(d, c00);
            c01 = w3.fma(FloatVector.fromArray(F, x, x1 + c + 24), w2.fma(FloatVector.fromArray(F, x, x1 + c + 16), w1.fma(FloatVector.fromArray(F, x, x1 + c + 8), w0.mul(FloatVector.fromArray(F, x, x1 + c))))).fma(d, c01);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s1 + b]);
            c10 = w3.fma(FloatVector.fromArray(F, x, x0 + c + 24), w2.fma(FloatVector.fromArray(F, x, x0 + c + 16), w1.fma(FloatVector.fromArray(F, x, x0 + c + 8), w0.mul(FloatVector.fromArray(F, x, x0 + c))))).fma(d, c10);
            c11 = w3.fma(FloatVector.fromArray(F, x, x1 + c + 24), w2.fma(FloatVector.fromArray(F, x, x1 + c + 16), w1.fma(FloatVector.fromArray(F, x, x1 + c + 8), w0.mul(FloatVector.fromArray(F, x, x1 + c))))).fma(d, c11);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s2 + b]);
            c20 = w3.fma(FloatVector.fromArray(F, x, x0 + c + 24), w2.fma(FloatVector.fromArray(F, x, x0 + c + 16), w1.fma(FloatVector.fromArray(F, x, x0 + c + 8), w0.mul(FloatVector.fromArray(F, x, x0 + c))))).fma(d, c20);
            c21 = w3.fma(FloatVector.fromArray(F, x, x1 + c + 24), w2.fma(FloatVector.fromArray(F, x, x1 + c + 16), w1.fma(FloatVector.fromArray(F, x, x1 + c + 8), w0.mul(FloatVector.fromArray(F, x, x1 + c))))).fma(d, c21);
            w0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            w3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0));
            d = FloatVector.broadcast(F, scales[s3 + b]);
            c30 = w3.fma(FloatVector.fromArray(F, x, x0 + c + 24), w2.fma(FloatVector.fromArray(F, x, x0 + c + 16), w1.fma(FloatVector.fromArray(F, x, x0 + c + 8), w0.mul(FloatVector.fromArray(F, x, x0 + c))))).fma(d, c30);
            c31 = w3.fma(FloatVector.fromArray(F, x, x1 + c + 24), w2.fma(FloatVector.fromArray(F, x, x1 + c + 16), w1.fma(FloatVector.fromArray(F, x, x1 + c + 8), w0.mul(FloatVector.fromArray(F, x, x1 + c))))).fma(d, c31);
        }
        out[row * 2] = c00.reduceLanes(VectorOperators.ADD) + c01.reduceLanes(VectorOperators.ADD) + c10.reduceLanes(VectorOperators.ADD) + c11.reduceLanes(VectorOperators.ADD)
          + c20.reduceLanes(VectorOperators.ADD) + c21.reduceLanes(VectorOperators.ADD) + c30.reduceLanes(VectorOperators.ADD) + c31.reduceLanes(VectorOperators.ADD);
        }
    }

    static double cpu() { return TM.getCurrentThreadCpuTime() / 1e9; }

    public static void main(String[] a) {
        int rows = Integer.parseInt(a[0]), cols = Integer.parseInt(a[1]);
        long total = Long.parseLong(a[2]) << 20;
        int rounds = Integer.parseInt(a[3]);
        long mat = (long) rows * cols;
        int nmat = (int) Math.max(1, total / mat);
        MemorySegment q = Arena.global().allocate(mat * nmat, 64);
        Random rnd = new Random(1);
        for (long i = 0; i < mat * nmat; i++) q.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
        float[] sc = new float[(int) (mat * nmat / BLOCK)];
        for (int i = 0; i < sc.length; i++) sc[i] = rnd.nextFloat() * 0.01f;
        float[] x = new float[2 * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] out = new float[2 * rows], ref = new float[2 * rows];
        String[] names = {"main", "blk", "blkf"};
        double[][] t = new double[names.length][rounds];
        int perRound = Math.max(1, (int) ((256L << 20) / mat));
        float sink = 0;
        for (int r = -3; r < rounds; r++) {
            for (int v = 0; v < names.length; v++) {
                double c0 = cpu();
                for (int k = 0; k < perRound; k++) {
                    int m = (k * 7 + r * 13 + v) % nmat; if (m < 0) m += nmat;
                    long qo = (long) m * mat; int so = (int) (qo / BLOCK);
                    switch (v) {
                        case 0 -> cur(q, sc, qo, so, rows, cols, x, 0, cols, out);
                        case 1 -> blk(q, sc, qo, so, rows, cols, x, 0, cols, out);
                        case 2 -> blkf(q, sc, qo, so, rows, cols, x, 0, cols, out);
                    }
                    sink += out[0];
                }
                if (r >= 0) t[v][r] = cpu() - c0;
            }
        }
        cur(q, sc, 0, 0, rows, cols, x, 0, cols, ref);
        for (int v = 1; v < names.length; v++) {
            float[] o = new float[2 * rows];
            switch (v) { case 1 -> blk(q, sc, 0, 0, rows, cols, x, 0, cols, o); case 2 -> blkf(q, sc, 0, 0, rows, cols, x, 0, cols, o); }
            double md = 0, mx = 0; for (int i = 0; i < rows / 4 * 2; i += 2) { md = Math.max(md, Math.abs(o[i] - ref[i])); mx = Math.max(mx, Math.abs(ref[i])); }
            System.out.printf("  %-9s max|diff|/max|ref| %.2e%n", names[v], md / mx);
        }
        System.out.printf("%dx%d x 2 tokens, %d matrices, %d rounds, sink %s%n", rows, cols, nmat, rounds, sink);
        for (int v = 0; v < names.length; v++) {
            double[] s = t[v].clone(); Arrays.sort(s);
            double gb = perRound * (double) mat / 1e9;
            System.out.printf("%-9s median %.2f GB/CPU-s  best %.2f%n", names[v], gb / s[rounds / 2], gb / s[0]);
        }
    }
}
