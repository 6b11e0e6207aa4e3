package dev.nuri.kernels.bench;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.moe.FeedForward;
import dev.nuri.kernels.moe.GroupedExperts;
import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Fp8E4m3;
import dev.nuri.kernels.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Kernel benchmarks; bench/run.sh turns the times into GB/s and GFLOP/s next to the machine's own ceilings. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class KernelBench {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    static Tensor random(DType type, int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = (long) rows * cols;
        MemorySegment s = Arena.ofAuto().allocate(n * type.bytes(), 64);
        for (long i = 0; i < n; i++) {
            float v = (float) (r.nextGaussian() / Math.sqrt(cols));
            switch (type) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                case F8_E4M3 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (r.nextInt() & 0x77)); // finite codes only
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return new Tensor("w", type, new long[] {rows, cols}, s);
    }

    static WeightMatrix matrix(String type, int rows, int cols, long seed) {
        if (type.equals("Q8_0")) return WeightMatrix.of(random(DType.BF16, rows, cols, seed)).toQ8_0();
        DType t = DType.valueOf(type);
        Tensor scale = null;
        if (t == DType.F8_E4M3) {
            int br = (rows + 127) / 128, bc = (cols + 127) / 128;
            MemorySegment s = Arena.ofAuto().allocate(br * bc * 4L);
            for (int i = 0; i < br * bc; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1e-3f);
            scale = new Tensor("s", DType.F32, new long[] {br, bc}, s);
        }
        return WeightMatrix.of(random(t, rows, cols, seed), scale);
    }

    /** Machine ceiling 1: a 512 MiB off-heap copy (bytes moved = 2 × size: read + write). */
    @State(Scope.Benchmark)
    public static class CopyState {
        MemorySegment src, dst;

        @Setup
        public void setup() {
            src = Arena.ofAuto().allocate(1L << 29, 64);
            dst = Arena.ofAuto().allocate(1L << 29, 64);
            src.fill((byte) 1);
            dst.fill((byte) 2);
        }
    }

    /**
     * CPU time of the benchmark thread, the bytes it read and the calls, summed over an iteration (JMH secondary
     * results {@code cpuNanos}, {@code bytesRead} and {@code calls}). On a shared machine the wall time also measures the other
     * processes; bytes per CPU-second is the rate while this thread runs (kernels/bench/gemv_share.py).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class CpuTime {
        static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
        public long cpuNanos;
        public long bytesRead;
        public long calls;

        long start() {
            return MX.getCurrentThreadCpuTime();
        }

        void add(long start, long bytes) {
            cpuNanos += MX.getCurrentThreadCpuTime() - start;
            bytesRead += bytes;
        calls++;
        }
    }

    @Benchmark
    public void copyBandwidth(CopyState s) {
        MemorySegment.copy(s.src, 0, s.dst, 0, s.src.byteSize());
    }

    /**
     * Machine ceiling 1b: a streaming read, what GEMV is bounded by: a vector sum over 512 MiB off-heap with four
     * independent accumulators (bytes moved = size).
     */
    @Benchmark
    public long readBandwidth(CopyState s, CpuTime cpu) {
        long t = cpu.start();
        long sum = readSum(s);
        cpu.add(t, s.src.byteSize());
        return sum;
    }

    private static long readSum(CopyState s) {
        VectorSpecies<Byte> b = ByteVector.SPECIES_PREFERRED;
        ByteVector a0 = ByteVector.zero(b), a1 = a0, a2 = a0, a3 = a0;
        int step = b.length();
        long end = s.src.byteSize();
        for (long o = 0; o + 4L * step <= end; o += 4L * step) {
            a0 = a0.add(ByteVector.fromMemorySegment(b, s.src, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(ByteVector.fromMemorySegment(b, s.src, o + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(ByteVector.fromMemorySegment(b, s.src, o + 2L * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(ByteVector.fromMemorySegment(b, s.src, o + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanesToLong(VectorOperators.ADD);
    }

    /** Machine ceiling 2: 12 independent FMA chains in registers; 2 × lanes × 12 × 1e6 flops per call. */
    @Benchmark
    public float fmaPeak() {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f);
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < 1_000_000; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }

    /**
     * GEMV: size × size weight times one vector. 4096 (64 MiB in F32, 32 MiB in BF16: an L3 of 32 MiB holds a
     * part of it) is the table's shape; {@code -p size=8192} (128 MiB in BF16) is beyond any cache. {@code cols}
     * other than 0 makes it size × cols (kernels/bench/ggml_compare.sh: llama.cpp's 4096 × 14336).
     */
    @State(Scope.Benchmark)
    public static class GemvState {
        @Param({"F32", "BF16", "F8_E4M3", "Q8_0"})
        public String type;
        /** Kernel threads (the pool splits the rows); 1 is the single-core figure. */
        @Param({"1"})
        public int threads;
        @Param({"4096"})
        public int size;
        @Param({"0"})
        public int cols;
        /** Distinct weights of this shape, one per call in turn: {@link Weights}. */
        @Param({"1"})
        public int copies;
        Weights w;
        float[] x, y;

        @Setup
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(threads);
            int c = cols == 0 ? size : cols;
            w = new Weights(type, size, c, 1, copies);
            x = new float[c];
            y = new float[size];
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        }
    }

    /**
     * {@code copies} weights of one shape, taken in turn. A small weight (an MoE expert's: 1 MiB in BF16) read
     * again and again stays in L2/L3; in a decode step each expert's weight comes from memory, which copies
     * whose sum is beyond the L3 (e.g. 96 of 1 MiB) reproduce.
     */
    static final class Weights {
        private final WeightMatrix[] all;
        private int next;

        Weights(String type, int rows, int cols, long seed, int copies) {
            all = new WeightMatrix[copies];
            for (int i = 0; i < copies; i++) all[i] = matrix(type, rows, cols, seed + 1000L * i);
        }

        WeightMatrix next() {
            WeightMatrix w = all[next];
            next = next + 1 == all.length ? 0 : next + 1;
            return w;
        }
    }

    @Benchmark
    public float gemv(GemvState s, CpuTime cpu) {
        WeightMatrix w = s.w.next();
        long t = cpu.start();
        w.matvec(s.x, 0, s.y, 0);
        cpu.add(t, w.bytes());
        return s.y[17];
    }

    /** GEMM: 2048 × 2048 weight times 64 tokens. */
    @State(Scope.Benchmark)
    public static class GemmState {
        @Param({"F32", "BF16", "F8_E4M3", "Q8_0"})
        public String type;
        @Param({"1"})
        public int threads;
        WeightMatrix w;
        float[] x = new float[64 * 2048], y = new float[64 * 2048];

        @Setup
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(threads);
            w = matrix(type, 2048, 2048, 2);
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        }
    }

    @Benchmark
    public float gemm(GemmState s) {
        s.w.matmul(s.x, 64, s.y);
        return s.y[17];
    }

    /** The few-token GEMM of an MoE expert at decode (2048 × 7168 unless told, a few tokens routed to it). */
    @State(Scope.Benchmark)
    public static class FewTokensState {
        @Param({"BF16", "Q8_0", "F8_E4M3"})
        public String type;
        @Param({"4"})
        public int tokens;
        @Param({"1"})
        public int threads;
        @Param({"2048"})
        public int rows;
        @Param({"7168"})
        public int cols;
        @Param({"1"})
        public int copies;
        Weights w;
        float[] x, y;

        @Setup
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(threads);
            w = new Weights(type, rows, cols, 3, copies);
            x = new float[tokens * cols];
            y = new float[tokens * rows];
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        }
    }

    @Benchmark
    public float gemmFewTokens(FewTokensState s, CpuTime cpu) {
        WeightMatrix w = s.w.next();
        long t = cpu.start();
        w.matmul(s.x, s.tokens, s.y);
        cpu.add(t, w.bytes());
        return s.y[17];
    }

    static final int MOE_H = 7168, MOE_FFN = 2048, MOE_EXPERTS = 16, MOE_K = 8;

    /** One MoE layer's routed experts at A.X K1's expert shape (H 7168, FFN 2048, top-8), 16 BF16 experts resident. */
    static GroupedExperts moeExperts() {
        FeedForward[] ffn = new FeedForward[MOE_EXPERTS];
        for (int i = 0; i < MOE_EXPERTS; i++) {
            ffn[i] = new FeedForward(WeightMatrix.of(random(DType.BF16, MOE_FFN, MOE_H, 10 + 3 * i)),
                    WeightMatrix.of(random(DType.BF16, MOE_FFN, MOE_H, 11 + 3 * i)),
                    WeightMatrix.of(random(DType.BF16, MOE_H, MOE_FFN, 12 + 3 * i)));
        }
        return new GroupedExperts(new FeedForward[][] {ffn});
    }

    /** A batch's hidden states and routing (k distinct experts per token, uniform weights). */
    static final class MoeBatch {
        final int batch;
        final float[] hidden, weights, out;
        final int[] ids;

        MoeBatch(int batch) {
            this.batch = batch;
            SplittableRandom r = new SplittableRandom(5);
            hidden = new float[batch * MOE_H];
            for (int i = 0; i < hidden.length; i++) hidden[i] = (float) r.nextGaussian();
            ids = new int[batch * MOE_K];
            weights = new float[batch * MOE_K];
            for (int t = 0; t < batch; t++) {
                int[] perm = r.ints(0, MOE_EXPERTS).distinct().limit(MOE_K).toArray();
                for (int j = 0; j < MOE_K; j++) {
                    ids[t * MOE_K + j] = perm[j];
                    weights[t * MOE_K + j] = 1f / MOE_K;
                }
            }
            out = new float[batch * MOE_H];
        }

        float run(GroupedExperts experts) {
            java.util.Arrays.fill(out, 0f);
            experts.apply(0, batch, MOE_K, hidden, ids, weights, out);
            return out[3];
        }
    }

    @State(Scope.Benchmark)
    public static class MoeState {
        @Param({"1", "8", "64", "256"})
        public int batch;
        @Param({"1"})
        public int threads;
        GroupedExperts experts;
        MoeBatch b;

        @Setup(Level.Trial)
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(threads);
            experts = moeExperts();
            b = new MoeBatch(batch);
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public float moeLayer(MoeState s) {
        return s.b.run(s.experts);
    }

    /**
     * The worker's case: one JVM serves mixed batch sizes. Batch 1 runs first (until C2 has compiled its
     * kernels, as a worker's first decode steps would), then the measured batch: the JIT must not have
     * specialised the shared kernels to batch 1 (it did: batch 8 ran 3× slower than in a fresh JVM).
     */
    @State(Scope.Benchmark)
    public static class MoeAfterBatch1State {
        @Param({"8", "64"})
        public int batch;
        GroupedExperts experts;
        MoeBatch b;

        @Setup(Level.Trial)
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(1);
            experts = moeExperts();
            MoeBatch one = new MoeBatch(1);
            long end = System.nanoTime() + 3_000_000_000L;
            for (int i = 0; i < 40 || System.nanoTime() < end; i++) one.run(experts);
            b = new MoeBatch(batch);
        }
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public float moeLayerAfterBatch1(MoeAfterBatch1State s) {
        return s.b.run(s.experts);
    }

    /**
     * One layer's attention over the KV cache alone (scores, softmax, weighted values), the bench checkpoint's GQA
     * shape (16 query heads, 4 KV heads of 64): a causal prefill of {@code tokens} positions on one thread (a unit is
     * a position and KV head, with its group of query heads).
     */
    @State(Scope.Benchmark)
    public static class AttentionState {
        @Param({"256", "1024"})
        public int tokens;
        static final int HEADS = 16, KV_HEADS = 4, HEAD_DIM = 64;
        dev.nuri.kernels.attention.GroupedQueryAttention attention;
        KvCache[] caches;
        int[] positions;
        float[] q, out;
        float[][] scratch = {new float[0], new float[0], new float[0]};

        @Setup(Level.Trial)
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(1);
            attention = new dev.nuri.kernels.attention.GroupedQueryAttention(0, HEADS, KV_HEADS, HEAD_DIM, null, null,
                    null, null, null, null, 1e-6f, null);
            int kw = KV_HEADS * HEAD_DIM;
            KvCache cache = KvCache.standalone(1, tokens, kw, kw);
            cache.reserve(tokens);
            SplittableRandom r = new SplittableRandom(7);
            for (int p = 0; p < tokens; p++) {
                int row = (p % cache.blockSize()) * kw;
                for (int i = 0; i < kw; i++) {
                    cache.keys(0, p)[row + i] = (float) r.nextGaussian();
                    cache.values(0, p)[row + i] = (float) r.nextGaussian();
                }
            }
            caches = new KvCache[tokens];
            positions = new int[tokens];
            for (int t = 0; t < tokens; t++) {
                caches[t] = cache;
                positions[t] = t;
            }
            q = new float[tokens * HEADS * HEAD_DIM];
            for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
            out = new float[q.length];
        }
    }

    @Benchmark
    public float attentionPrefill(AttentionState s) {
        s.attention.attend(s.q, s.caches, s.positions, s.tokens, s.out, 0, s.tokens * AttentionState.KV_HEADS, s.scratch);
        return s.out[5];
    }

    /**
     * One MLA layer's attention over the latent cache at decode, DeepSeek-V3 / A.X K1's shape (128 heads, latent 512,
     * rope 64, nope and v 128, BF16 kv_b_proj), {@code batch} sequences of {@code context} positions each, one thread.
     */
    @State(Scope.Benchmark)
    public static class MlaDecodeState {
        @Param({"4096"})
        public int context;
        @Param({"1", "16"})
        public int batch;
        static final int HEADS = 128, RANK = 512, ROPE = 64, NOPE = 128, V = 128;
        dev.nuri.kernels.attention.MultiHeadLatentAttention attention;
        KvCache[] caches;
        int[] positions;
        float[] q, out;
        float[][] scratch = {new float[0], new float[0], new float[0]};

        @Setup(Level.Trial)
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(1);
            WeightMatrix kvBProj = WeightMatrix.of(random(DType.BF16, HEADS * (NOPE + V), RANK, 21));
            attention = new dev.nuri.kernels.attention.MultiHeadLatentAttention(0, 7168, HEADS, NOPE, ROPE, V, RANK, null,
                    null, null, null, null, null, kvBProj, null, 1e-6f, 0.07f, null);
            int kw = RANK + ROPE;
            SplittableRandom r = new SplittableRandom(8);
            caches = new KvCache[batch];
            positions = new int[batch];
            for (int t = 0; t < batch; t++) {
                KvCache cache = KvCache.standalone(1, context, kw, 0);
                cache.reserve(context);
                for (int p = 0; p < context; p += cache.blockSize()) {
                    float[] block = cache.keys(0, p);
                    for (int i = 0; i < block.length; i++) block[i] = (float) r.nextGaussian();
                }
                caches[t] = cache;
                positions[t] = context - 1;
            }
            q = new float[batch * HEADS * (NOPE + ROPE)];
            for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
            out = new float[batch * HEADS * V];
        }
    }

    @Benchmark
    public float attentionDecodeMla(MlaDecodeState s) {
        s.attention.attend(s.q, s.caches, s.positions, s.batch, s.out, 0, MlaDecodeState.HEADS, s.scratch);
        return s.out[5];
    }

    /** A whole decode step (batch 1, 32 tokens of context) of builtin tiny-axk1, a scaled-down A.X K1. */
    @State(Scope.Benchmark)
    public static class DecodeState {
        CausalLm model;
        KvCache cache;

        @Setup(Level.Trial)
        public void setup() {
            dev.nuri.kernels.backend.KernelPool.configure(1);
            model = CausalLm.builtin("tiny-axk1");
            cache = model.newCache(64);
            int[] prompt = new int[32];
            for (int i = 0; i < 32; i++) prompt[i] = 3 + i;
            model.prefill(prompt, cache, model.localExperts());
        }
    }

    @Benchmark
    public float decodeStepTinyAxk1(DecodeState s) {
        float[] logits = s.model.decode(new int[] {7}, new KvCache[] {s.cache}, s.model.localExperts())[0];
        s.cache.truncate(32);
        return logits[0];
    }

    static {
        if (Fp8E4m3.MAX != 448f) throw new AssertionError();
    }
}
