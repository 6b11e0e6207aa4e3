// Probe for the Q8_0 GEMV ideas of docs/benchmarks.md ("Q8_0 GEMV on AVX2: what the Vector API allows", issue 14):
// a copy of main's 4-row kernel (Q8Matrix.dotRows4) and the variants measured, interleaved in one process over
// Q8_0 matrices of the decode's shapes, timed by the thread's CPU time. Not part of the build:
//   java --add-modules jdk.incubator.vector kernels/bench/Q8GemvProbe.java ROWS COLS MIB ROUNDS
//   e.g. 1024 512 256 21 (256 MiB of 1024 x 512 weights: from memory); 512 1024 1 9 (1 MiB: in L2)
//   -Dsel=0,1,2 runs only those variants (indices into NAMES).
// Variants: main (copy of main's kernel); mulfirst (each block's first pair of vectors as products, not FMAs into
// zero: the same sums, one loop level per block); noscale (no block scale: wrong results, a bound); mulfirst-inl
// (mulfirst written for AVX2 only, inlined into the row loop); mf1 (one FMA chain per row and block); mf8 (8 rows
// per pass); rows2 (2 rows, 4 chains each); ld32 / load16 (one 256-bit / 128-bit byte load per block / half block,
// convertShape parts 0..3 / 0..1); ishift / intdot (activations quantised to int8 per block: int16 products, pair
// sums by shifts / by S2I convertShape; change the numerics).
import java.lang.foreign.*;
import java.lang.management.*;
import java.nio.ByteOrder;
import java.util.*;
import jdk.incubator.vector.*;

public class Q8GemvProbe {
    static java.util.Set<Integer> SEL = new java.util.HashSet<>(java.util.Arrays.stream(System.getProperty("sel", "0,1,2,3,4,5,6,7,8,9,10,11").split(",")).map(Integer::valueOf).toList());
    static String[] NAMES = {"read", "main", "mulfirst", "noscale", "mulfirst-inl", "mf1", "mf8", "rows2", "ld32", "load16", "ishift", "intdot"};
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    static final int BLOCK = 32;
    static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    // ---- main's kernel (copy of Q8Matrix.dotRows4) ----
    static void cur(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        for (int p = 0; p < gap; p++) curRows4(quants, scales, qOff, sOff, p, gap, cols, x, out);
    }
    static void curRows4(MemorySegment quants, float[] scales, long qOff, int sOff, int row, int gap, int cols, float[] x, float[] out) {
        long g = (long) gap * cols, q0 = qOff + (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = sOff + row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        int step = 8;
        FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
        for (int b = 0; b < nb; b++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
            for (int j = 0; j < BLOCK; j += 2 * step) {
                int c = b * BLOCK + j, d = c + step;
                FloatVector v = FloatVector.fromArray(F, x, c), u = FloatVector.fromArray(F, x, d);
                a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e3);
            }
            t0 = a0.add(e0).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
            t1 = a1.add(e1).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
            t2 = a2.add(e2).fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
            t3 = a3.add(e3).fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
        }
        out[row] = t0.reduceLanes(VectorOperators.ADD);
        out[row + gap] = t1.reduceLanes(VectorOperators.ADD);
        out[row + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
        out[row + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
    }

    // ---- bound: no block scale (wrong results) ----
    static void noscale(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
            for (int c = 0; c < cols; c += 16) {
                int d = c + 8;
                FloatVector v = FloatVector.fromArray(F, x, c), u = FloatVector.fromArray(F, x, d);
                a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e3);
            }
            out[p] = a0.add(e0).reduceLanes(VectorOperators.ADD);
            out[p + gap] = a1.add(e1).reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = a2.add(e2).reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = a3.add(e3).reduceLanes(VectorOperators.ADD);
        }
    }

    // ---- 2 rows, 4 chains each (each vector of the 32-block its own chain) ----
    static void rows2(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 2;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long q0 = qOff + (long) p * cols, q1 = q0 + (long) gap * cols;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector x0 = FloatVector.fromArray(F, x, c), x1 = FloatVector.fromArray(F, x, c + 8), x2 = FloatVector.fromArray(F, x, c + 16), x3 = FloatVector.fromArray(F, x, c + 24);
                FloatVector a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                FloatVector bb = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a);
                bb = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, bb);
                FloatVector f = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                FloatVector h = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                f = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, f);
                h = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, h);
                t0 = a.add(bb).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
                t1 = f.add(h).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
        }
    }

    // ---- current, first FMA of each chain as a mul (no zero accumulators) ----
    static void mulfirst(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector v = FloatVector.fromArray(F, x, c), u = FloatVector.fromArray(F, x, c + 8);
                FloatVector a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
                FloatVector e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
                FloatVector a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
                FloatVector e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
                FloatVector a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
                FloatVector e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
                FloatVector a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
                FloatVector e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
                v = FloatVector.fromArray(F, x, c + 16); u = FloatVector.fromArray(F, x, c + 24);
                a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e3);
                t0 = a0.add(e0).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
                t1 = a1.add(e1).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
                t2 = a2.add(e2).fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
                t3 = a3.add(e3).fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }

    // ---- 128-bit byte load, B2S to 16 shorts, then S2F parts? -> via convertShape B2F parts 0,1 of a 128-bit load ----
    static void load16(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
                for (int j = 0; j < BLOCK; j += 16) {
                    int c = b * BLOCK + j;
                    FloatVector v = FloatVector.fromArray(F, x, c), u = FloatVector.fromArray(F, x, c + 8);
                    ByteVector w = ByteVector.fromMemorySegment(B16, quants, q0 + c, ByteOrder.LITTLE_ENDIAN);
                    a0 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                    e0 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).fma(u, e0);
                    w = ByteVector.fromMemorySegment(B16, quants, q1 + c, ByteOrder.LITTLE_ENDIAN);
                    a1 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                    e1 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).fma(u, e1);
                    w = ByteVector.fromMemorySegment(B16, quants, q2 + c, ByteOrder.LITTLE_ENDIAN);
                    a2 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                    e2 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).fma(u, e2);
                    w = ByteVector.fromMemorySegment(B16, quants, q3 + c, ByteOrder.LITTLE_ENDIAN);
                    a3 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                    e3 = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).fma(u, e3);
                }
                t0 = a0.add(e0).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
                t1 = a1.add(e1).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
                t2 = a2.add(e2).fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
                t3 = a3.add(e3).fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }

    // ---- integer: bytes*bytes in shorts (activations quantized per block) ----
    // xq: activations as int8 widened to shorts, xs: per-block activation scales
    static void intdot(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, short[] xq, float[] xs, float[] out) {
        int gap = rows / 2;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long q0 = qOff + (long) p * cols, q1 = q0 + (long) gap * cols;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                ShortVector x0 = ShortVector.fromArray(S16, xq, c), x1 = ShortVector.fromArray(S16, xq, c + 16);
                ShortVector w0 = (ShortVector) ByteVector.fromMemorySegment(B16, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0);
                ShortVector w1 = (ShortVector) ByteVector.fromMemorySegment(B16, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0);
                ShortVector m = w0.mul(x0).add(w1.mul(x1));
                IntVector i0 = (IntVector) m.convertShape(VectorOperators.S2I, I8, 0);
                IntVector i1 = (IntVector) m.convertShape(VectorOperators.S2I, I8, 1);
                FloatVector f = (FloatVector) i0.add(i1).convert(VectorOperators.I2F, 0);
                t0 = f.fma(FloatVector.broadcast(F, scales[s0 + b] * xs[b]), t0);
                w0 = (ShortVector) ByteVector.fromMemorySegment(B16, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0);
                w1 = (ShortVector) ByteVector.fromMemorySegment(B16, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0);
                m = w0.mul(x0).add(w1.mul(x1));
                i0 = (IntVector) m.convertShape(VectorOperators.S2I, I8, 0);
                i1 = (IntVector) m.convertShape(VectorOperators.S2I, I8, 1);
                f = (FloatVector) i0.add(i1).convert(VectorOperators.I2F, 0);
                t1 = f.fma(FloatVector.broadcast(F, scales[s1 + b] * xs[b]), t1);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
        }
    }


    static FloatVector w8(MemorySegment q, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B8, q, off, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0);
    }
    // mul-first, one chain per row per block (no a+e add)
    static void mf1(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector x0 = FloatVector.fromArray(F, x, c), x1 = FloatVector.fromArray(F, x, c + 8), x2 = FloatVector.fromArray(F, x, c + 16), x3 = FloatVector.fromArray(F, x, c + 24);
                FloatVector a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x1, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, a);
                t0 = a.fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x1, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, a);
                t1 = a.fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x1, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, a);
                t2 = a.fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x1, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, a);
                t3 = a.fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }
    // mul-first, two pairs (as cur), 2 blocks per iteration with t per parity (8 t accumulators)
    static void mfpair(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
            int s0 = sOff + p * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector x0 = FloatVector.fromArray(F, x, c), x1 = FloatVector.fromArray(F, x, c + 8), x2 = FloatVector.fromArray(F, x, c + 16), x3 = FloatVector.fromArray(F, x, c + 24);
                FloatVector a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0), e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t0 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t1 = a.add(e).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t2 = a.add(e).fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1);
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t3 = a.add(e).fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }
    // 8 rows (an eighth of the range apart), mul-first pairs
    static void mf8(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 8;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols;
            int s0 = sOff + p * nb, sg = gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0, t4 = t0, t5 = t0, t6 = t0, t7 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector x0 = FloatVector.fromArray(F, x, c), x1 = FloatVector.fromArray(F, x, c + 8), x2 = FloatVector.fromArray(F, x, c + 16), x3 = FloatVector.fromArray(F, x, c + 24);
                long q = q0 + c; FloatVector a, e;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t0 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + b]), t0); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t1 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + sg + b]), t1); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t2 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 2 * sg + b]), t2); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t3 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 3 * sg + b]), t3); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t4 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 4 * sg + b]), t4); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t5 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 5 * sg + b]), t5); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t6 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 6 * sg + b]), t6); q += g;
                a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 8, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(x1); a = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x2, a); e = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q + 24, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(x3, e);
                t7 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 7 * sg + b]), t7);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
            out[p + 4 * gap] = t4.reduceLanes(VectorOperators.ADD);
            out[p + 5 * gap] = t5.reduceLanes(VectorOperators.ADD);
            out[p + 6 * gap] = t6.reduceLanes(VectorOperators.ADD);
            out[p + 7 * gap] = t7.reduceLanes(VectorOperators.ADD);
        }
    }
    // 32-byte load per row per block, parts 0..3
    static void ld32(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols;
            int s0 = sOff + p * nb, sg = gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                FloatVector x0 = FloatVector.fromArray(F, x, c), x1 = FloatVector.fromArray(F, x, c + 8), x2 = FloatVector.fromArray(F, x, c + 16), x3 = FloatVector.fromArray(F, x, c + 24);
                long q = q0 + c; FloatVector a, e; ByteVector w;
                w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, quants, q, ByteOrder.LITTLE_ENDIAN);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).mul(x1);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 2)).fma(x2, a); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 3)).fma(x3, e);
                t0 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + b]), t0); q += g;
                w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, quants, q, ByteOrder.LITTLE_ENDIAN);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).mul(x1);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 2)).fma(x2, a); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 3)).fma(x3, e);
                t1 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + sg + b]), t1); q += g;
                w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, quants, q, ByteOrder.LITTLE_ENDIAN);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).mul(x1);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 2)).fma(x2, a); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 3)).fma(x3, e);
                t2 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 2 * sg + b]), t2); q += g;
                w = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, quants, q, ByteOrder.LITTLE_ENDIAN);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 0)).mul(x0); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 1)).mul(x1);
                a = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 2)).fma(x2, a); e = ((FloatVector) w.convertShape(VectorOperators.B2F, F, 3)).fma(x3, e);
                t3 = a.add(e).fma(FloatVector.broadcast(F, scales[s0 + 3 * sg + b]), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }


    // integer: int8 weights x int8 activations (as shorts) in int16, pair sums by shifts, 4 rows
    static void ishift(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, short[] xq, float[] xs, float[] out) {
        int gap = rows / 4;
        int nb = cols / BLOCK;
        for (int p = 0; p < gap; p++) {
            long g = (long) gap * cols, q0 = qOff + (long) p * cols;
            int s0 = sOff + p * nb, sg = gap * nb;
            FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
            for (int b = 0; b < nb; b++) {
                int c = b * BLOCK;
                ShortVector x0 = ShortVector.fromArray(S16, xq, c), x1 = ShortVector.fromArray(S16, xq, c + 16);
                float xsb = xs[b];
                long q = q0 + c;
                ShortVector m = ((ShortVector) ByteVector.fromMemorySegment(B16, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B16, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x1));
                IntVector i = m.reinterpretAsInts();
                FloatVector f = (FloatVector) i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
                t0 = f.fma(FloatVector.broadcast(F, scales[s0 + b] * xsb), t0); q += g;
                m = ((ShortVector) ByteVector.fromMemorySegment(B16, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B16, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x1));
                i = m.reinterpretAsInts();
                f = (FloatVector) i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
                t1 = f.fma(FloatVector.broadcast(F, scales[s0 + sg + b] * xsb), t1); q += g;
                m = ((ShortVector) ByteVector.fromMemorySegment(B16, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B16, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x1));
                i = m.reinterpretAsInts();
                f = (FloatVector) i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
                t2 = f.fma(FloatVector.broadcast(F, scales[s0 + 2 * sg + b] * xsb), t2); q += g;
                m = ((ShortVector) ByteVector.fromMemorySegment(B16, quants, q, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(B16, quants, q + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S16, 0)).mul(x1));
                i = m.reinterpretAsInts();
                f = (FloatVector) i.lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
                t3 = f.fma(FloatVector.broadcast(F, scales[s0 + 3 * sg + b] * xsb), t3);
            }
            out[p] = t0.reduceLanes(VectorOperators.ADD);
            out[p + gap] = t1.reduceLanes(VectorOperators.ADD);
            out[p + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
            out[p + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
        }
    }


    // generic: first pair as muls, the rest of the block in an inner loop
    static void mfgen(MemorySegment quants, float[] scales, long qOff, int sOff, int rows, int cols, float[] x, float[] out) {
        int gap = rows / 4;
        for (int p = 0; p < gap; p++) mainRows4(quants, scales, qOff, sOff, p, gap, cols, x, out);
    }
    static void mainRows4(MemorySegment quants, float[] scales, long qOff, int sOff, int row, int gap, int cols, float[] x, float[] out) {
        long g = (long) gap * cols, q0 = qOff + (long) row * cols, q1 = q0 + g, q2 = q1 + g, q3 = q2 + g;
        int nb = cols / BLOCK, s0 = sOff + row * nb, s1 = s0 + gap * nb, s2 = s1 + gap * nb, s3 = s2 + gap * nb;
        int step = 8;
        FloatVector t0 = FloatVector.zero(F), t1 = t0, t2 = t0, t3 = t0;
        for (int b = 0; b < nb; b++) {
            int c = b * BLOCK, d = c + step;
            FloatVector v = FloatVector.fromArray(F, x, c), u = FloatVector.fromArray(F, x, d);
            FloatVector a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
            FloatVector e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
            FloatVector a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
            FloatVector e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
            FloatVector a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
            FloatVector e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
            FloatVector a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(v);
            FloatVector e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).mul(u);
            for (int j = 2 * step; j < BLOCK; j += 2 * step) {
                c = b * BLOCK + j; d = c + step;
                v = FloatVector.fromArray(F, x, c); u = FloatVector.fromArray(F, x, d);
                a0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a0);
                e0 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q0 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a1);
                e1 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q1 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a2);
                e2 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q2 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + c, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(v, a3);
                e3 = ((FloatVector) ByteVector.fromMemorySegment(B8, quants, q3 + d, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0)).fma(u, e3);
            }
            t0 = a0.add(e0).fma(FloatVector.broadcast(F, scales[s0 + b]), t0);
            t1 = a1.add(e1).fma(FloatVector.broadcast(F, scales[s1 + b]), t1);
            t2 = a2.add(e2).fma(FloatVector.broadcast(F, scales[s2 + b]), t2);
            t3 = a3.add(e3).fma(FloatVector.broadcast(F, scales[s3 + b]), t3);
        }
        out[row] = t0.reduceLanes(VectorOperators.ADD);
        out[row + gap] = t1.reduceLanes(VectorOperators.ADD);
        out[row + 2 * gap] = t2.reduceLanes(VectorOperators.ADD);
        out[row + 3 * gap] = t3.reduceLanes(VectorOperators.ADD);
    }

    // ---- plain read ----
    static float read(MemorySegment quants, long qOff, long bytes) {
        IntVector s = IntVector.zero(I8), s2 = s;
        for (long i = 0; i < bytes; i += 64) {
            s = s.add(IntVector.fromMemorySegment(I8, quants, qOff + i, ByteOrder.LITTLE_ENDIAN));
            s2 = s2.add(IntVector.fromMemorySegment(I8, quants, qOff + i + 32, ByteOrder.LITTLE_ENDIAN));
        }
        return s.add(s2).reduceLanes(VectorOperators.ADD);
    }

    static double cpu() { return TM.getCurrentThreadCpuTime() / 1e9; }

    public static void main(String[] a) {
        int rows = Integer.parseInt(a[0]), cols = Integer.parseInt(a[1]);
        long total = Long.parseLong(a[2]) << 20; // MiB of weights
        int rounds = Integer.parseInt(a[3]);
        long mat = (long) rows * cols;
        int nmat = (int) Math.max(1, total / mat);
        MemorySegment q = Arena.global().allocate(mat * nmat, 64);
        Random rnd = new Random(1);
        for (long i = 0; i < mat * nmat; i += 8) q.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong() & 0x7f7f7f7f7f7f7f7fL ^ (rnd.nextBoolean() ? 0 : 0x8080808080808080L) );
        // keep values in [-127,127]
        for (long i = 0; i < mat * nmat; i++) { byte b = q.get(ValueLayout.JAVA_BYTE, i); if (b == -128) q.set(ValueLayout.JAVA_BYTE, i, (byte) -127); }
        float[] sc = new float[(int) (mat * nmat / BLOCK)];
        for (int i = 0; i < sc.length; i++) sc[i] = rnd.nextFloat() * 0.01f;
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        short[] xq = new short[cols];
        float[] xs = new float[cols / BLOCK];
        for (int b = 0; b < cols / BLOCK; b++) {
            float am = 0; for (int j = 0; j < BLOCK; j++) am = Math.max(am, Math.abs(x[b * BLOCK + j]));
            xs[b] = am / 127; for (int j = 0; j < BLOCK; j++) xq[b * BLOCK + j] = (short) Math.round(x[b * BLOCK + j] / xs[b]);
        }
        float[] out = new float[rows], ref = new float[rows];
        String[] names = NAMES;
        double[][] t = new double[names.length][rounds];
        cur(q, sc, 0, 0, rows, cols, x, ref);
        int perRound = Math.max(1, (int) ((256L << 20) / mat)); // ~256 MiB per measurement
        float sink = 0;
        for (int r = -3; r < rounds; r++) {
            for (int v = 0; v < names.length; v++) {
                if (!SEL.contains(v)) continue;
                double c0 = cpu();
                for (int k = 0; k < perRound; k++) {
                    int m = (k * 7 + r * 13 + v) % nmat; if (m < 0) m += nmat;
                    long qo = (long) m * mat; int so = (int) (qo / BLOCK);
                    switch (v) {
                        case 0 -> sink += read(q, qo, mat);
                        case 1 -> cur(q, sc, qo, so, rows, cols, x, out);
                        case 2 -> mfgen(q, sc, qo, so, rows, cols, x, out);
                        case 3 -> noscale(q, sc, qo, so, rows, cols, x, out);
                        case 4 -> mulfirst(q, sc, qo, so, rows, cols, x, out);
                        case 5 -> mf1(q, sc, qo, so, rows, cols, x, out);
                        case 6 -> mf8(q, sc, qo, so, rows, cols, x, out);
                        case 7 -> rows2(q, sc, qo, so, rows, cols, x, out);
                        case 8 -> ld32(q, sc, qo, so, rows, cols, x, out);
                        case 9 -> load16(q, sc, qo, so, rows, cols, x, out);
                        case 10 -> ishift(q, sc, qo, so, rows, cols, xq, xs, out);
                        case 11 -> intdot(q, sc, qo, so, rows, cols, xq, xs, out);
                    }
                    sink += out[1];
                }
                if (r >= 0) t[v][r] = cpu() - c0;
            }
        }
        cur(q, sc, 0, 0, rows, cols, x, ref);
        // check
        for (int v = 1; v < names.length; v++) {
            if (!SEL.contains(v)) continue;
            float[] o = new float[rows];
            switch (v) {
                case 1 -> cur(q, sc, 0, 0, rows, cols, x, o);
                case 2 -> mfgen(q, sc, 0, 0, rows, cols, x, o);
                case 3 -> noscale(q, sc, 0, 0, rows, cols, x, o);
                case 4 -> mulfirst(q, sc, 0, 0, rows, cols, x, o);
                case 5 -> mf1(q, sc, 0, 0, rows, cols, x, o);
                case 6 -> mf8(q, sc, 0, 0, rows, cols, x, o);
                case 7 -> rows2(q, sc, 0, 0, rows, cols, x, o);
                case 8 -> ld32(q, sc, 0, 0, rows, cols, x, o);
                case 9 -> load16(q, sc, 0, 0, rows, cols, x, o);
                case 10 -> ishift(q, sc, 0, 0, rows, cols, xq, xs, o);
                case 11 -> intdot(q, sc, 0, 0, rows, cols, xq, xs, o);
            }
            double md = 0, mx = 0; for (int i = 0; i < rows; i++) { md = Math.max(md, Math.abs(o[i] - ref[i])); mx = Math.max(mx, Math.abs(ref[i])); }
            System.out.printf("  %-9s max|diff|/max|ref| %.2e%n", names[v], md / mx);
        }
        System.out.printf("%dx%d, %d matrices (%d MiB), %d rounds, sink %s%n", rows, cols, nmat, mat * nmat >> 20, rounds, sink);
        for (int v = 0; v < names.length; v++) {
            if (!SEL.contains(v)) continue;
            double[] s = t[v].clone(); Arrays.sort(s);
            double gb = perRound * (double) mat / 1e9;
            System.out.printf("%-9s median %.2f GB/CPU-s  best %.2f  (G weights/CPU-s %.2f)%n", names[v], gb / s[rounds / 2], gb / s[0], gb / s[rounds / 2]);
        }
    }
}
