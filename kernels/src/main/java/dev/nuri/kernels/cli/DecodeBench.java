package dev.nuri.kernels.cli;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.backend.KernelPool;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.LoadOptions;
import dev.nuri.kernels.model.ModelConfig;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code nuri-kernels bench}: the model's own speed against the machine's read bandwidth, measured in the same
 * process: prefill tokens/s of one prompt, decode tokens/s at each batch size (each step one token of every
 * sequence), resident memory after loading, and for GQA models the roofline (weight bytes one decoded token
 * reads ÷ the read bandwidth). Random token ids: speed does not depend on which tokens.
 */
final class DecodeBench {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED;

    private DecodeBench() {}

    /**
     * Resident memory of shard {@code shard} of {@code shards} after loading: the experts of its static block
     * (contiguous, as the operator's default placement) prepared, nothing run.
     */
    static String shardMemory(Path dir, LoadOptions options, int shard, int shards) {
        boolean q8 = options.quantizeQ8_0();
        long rssBefore = rssBytes();
        CausalLm lm = CausalLm.load(dir, options);
        int n = lm.config().numExperts(), per = n / shards;
        int[] owned = java.util.stream.IntStream.range(shard * per, shard == shards - 1 ? n : (shard + 1) * per).toArray();
        lm.expertShard(owned);
        return String.format(Locale.ROOT, "model %s%s, shard %d of %d (experts %d..%d): resident memory %.2f GB (%.2f GB before loading)%n",
                dir, q8 ? " (q8_0)" : "", shard, shards, owned[0], owned[owned.length - 1], rssBytes() / 1e9, rssBefore / 1e9);
    }

    static String run(Path dir, LoadOptions options, int prompt, int steps, int[] batches, int rounds) {
        boolean q8 = options.quantizeQ8_0();
        long rssBefore = rssBytes();
        long t0 = System.nanoTime();
        CausalLm lm = CausalLm.load(dir, options);
        lm.localExperts(); // prepares (with q8: quantises) every expert, part of loading
        double loadSeconds = (System.nanoTime() - t0) / 1e9;
        ModelConfig c = lm.config();
        long rssLoaded = rssBytes(); // before the bandwidth probe's buffer
        SplittableRandom random = new SplittableRandom(1);
        StringBuilder out = new StringBuilder();
        double[] probe = readBandwidth(1L << 30, rounds);
        double bandwidth = probe[0], cpuBandwidth = probe[1];
        long perToken = decodeBytesPerToken(c, options);
        out.append(String.format(Locale.ROOT, "model %s (%s%s), kernel threads %d, loaded in %.1f s%n", dir, c.modelType(),
                q8 ? options.quantizeLmHead() ? ", q8_0 with lm_head" : ", q8_0" : "", KernelPool.global().threads(), loadSeconds));
        out.append(String.format(Locale.ROOT, "read bandwidth %.1f GB/s, %.1f GB per CPU-second (1 GiB off-heap, vector sum, %d threads)%n",
                bandwidth / 1e9, cpuBandwidth / 1e9, KernelPool.global().threads()));
        for (int round = 0; round < rounds; round++) {
            int[] tokens = random.ints(prompt, 3, c.vocabSize()).toArray();
            KvCache cache = lm.newCache(prompt + 1);
            long s = System.nanoTime(), cpu = cpuNanos(), faults = minorFaults();
            lm.prefill(tokens, cache, lm.localExperts());
            double sec = (System.nanoTime() - s) / 1e9, cpuSec = (cpuNanos() - cpu) / 1e9;
            out.append(String.format(Locale.ROOT, "prefill %d tokens: %.1f tok/s, %.1f per CPU-second; %d page faults%n", prompt,
                    prompt / sec, prompt / cpuSec, minorFaults() - faults));
        }
        for (int batch : batches) {
            for (int round = 0; round < rounds; round++) {
                KvCache[] caches = new KvCache[batch];
                int[] next = new int[batch];
                for (int b = 0; b < batch; b++) {
                    caches[b] = lm.newCache(16 + steps + 1);
                    lm.prefill(random.ints(16, 3, c.vocabSize()).toArray(), caches[b], lm.localExperts());
                    next[b] = 3 + random.nextInt(c.vocabSize() - 3);
                }
                long s = System.nanoTime(), cpu = cpuNanos(), faults = minorFaults();
                for (int step = 0; step < steps; step++) {
                    lm.decode(next, caches, lm.localExperts());
                    for (int b = 0; b < batch; b++) next[b] = 3 + random.nextInt(c.vocabSize() - 3);
                }
                double sec = (System.nanoTime() - s) / 1e9, cpuSec = (cpuNanos() - cpu) / 1e9;
                faults = minorFaults() - faults;
                double tps = batch * steps / sec, cpuTps = batch * steps / cpuSec;
                String roof = batch == 1 && perToken > 0
                        ? String.format(Locale.ROOT, ", %.0f MB/token = %.1f GB/s, %.0f%% of the read bandwidth"
                                + " (per CPU-second: %.0f%%)", perToken / 1e6, perToken * tps / 1e9,
                        100 * perToken * tps / bandwidth, 100 * perToken * cpuTps / cpuBandwidth) : "";
                out.append(String.format(Locale.ROOT, "decode batch %d: %.1f tok/s, %.1f per CPU-second%s; %d page faults%n", batch,
                        tps, cpuTps, roof, faults));
            }
        }
        out.append(String.format(Locale.ROOT, "resident memory: %.2f GB after loading, %.2f GB after the runs (%.2f GB before loading)%n",
                rssLoaded / 1e9, rssBytes() / 1e9, rssBefore / 1e9));
        return out.toString();
    }

    /**
     * Weight bytes one decoded token reads in a GQA model (qwen3_moe, mixtral): attention, router, its top-k
     * experts, lm_head; Q8_0 is 1 byte per weight plus a 2-byte scale per 32 (the router stays as stored, and
     * lm_head unless quantised too). 0 for MLA models (not computed here).
     */
    static long decodeBytesPerToken(ModelConfig c, LoadOptions options) {
        if (c.isMla()) return 0;
        double w = options.quantizeQ8_0() ? 34.0 / 32 : 2;
        long h = c.hiddenSize(), attn = h * c.numAttentionHeads() * c.headDim() * 2L
                + h * c.numKeyValueHeads() * c.headDim() * 2L;
        double perLayer = attn * w;
        double total = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            total += perLayer;
            total += c.isMoeLayer(l) ? 2.0 * c.numExperts() * h + c.topK() * 3.0 * h * c.moeIntermediateSize() * w
                    : 3.0 * h * c.intermediateSize() * w;
        }
        return (long) (total + (options.quantizeLmHead() ? w : 2.0) * c.vocabSize() * h);
    }

    /**
     * The process's CPU time. On a shared machine wall time measures the other processes as much as this one;
     * work per CPU-second (probe and model alike) is the rate while this process runs. With more than one
     * kernel thread it includes the workers' spinning between dispatches.
     */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * Bytes/s of a vector sum over {@code bytes} of off-heap memory, best of {@code rounds} passes, on the pool:
     * {wall-time rate, rate per CPU-second}.
     */
    static double[] readBandwidth(long bytes, int rounds) {
        try (Arena arena = Arena.ofShared()) { // freed before the model runs
            return readBandwidth(arena.allocate(bytes, 64), bytes, rounds);
        }
    }

    private static double[] readBandwidth(MemorySegment s, long bytes, int rounds) {
        s.fill((byte) 1);
        KernelPool pool = KernelPool.global();
        int chunks = pool.threads() * 4;
        long per = bytes / chunks / 4096 * 4096;
        long[] sums = new long[chunks];
        double best = 0, bestCpu = 0;
        int warmUp = 3; // passes that run before C2 has compiled the sum
        for (int r = 0; r < rounds + warmUp; r++) {
            long t = System.nanoTime(), cpu = cpuNanos();
            pool.run(chunks, i -> sums[i] = sum(s, i * per, per));
            double bw = chunks * per / ((System.nanoTime() - t) / 1e9);
            double cpuBw = chunks * per / ((cpuNanos() - cpu) / 1e9);
            if (r >= warmUp) {
                best = Math.max(best, bw);
                bestCpu = Math.max(bestCpu, cpuBw);
            }
        }
        if (Arrays.stream(sums).sum() == 42) System.out.print(""); // keep the sums alive
        return new double[] {best, bestCpu};
    }

    static long sum(MemorySegment s, long from, long len) {
        ByteVector a0 = ByteVector.zero(B), a1 = a0, a2 = a0, a3 = a0;
        int step = B.length();
        long o = from, end = from + len;
        for (; o + 4L * step <= end; o += 4L * step) {
            a0 = a0.add(ByteVector.fromMemorySegment(B, s, o, java.nio.ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(ByteVector.fromMemorySegment(B, s, o + step, java.nio.ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(ByteVector.fromMemorySegment(B, s, o + 2L * step, java.nio.ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(ByteVector.fromMemorySegment(B, s, o + 3L * step, java.nio.ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanesToLong(VectorOperators.ADD);
    }

    /** Minor page faults of this process so far ({@code minflt}, field 10 of /proc/self/stat); 0 where there is none. */
    static long minorFaults() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[7]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** VmRSS of this process from /proc/self/status; 0 where there is none. */
    static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
