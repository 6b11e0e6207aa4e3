package dev.nuri.kernels.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.LoadOptions;
import dev.nuri.kernels.ops.WeightMatrix;
import dev.nuri.kernels.weights.Checkpoint;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --quantization q8_0} on a shard: only the experts its placement gives it are quantised, and the
 * checkpoint pages they were read from leave the process (measured in /proc/self/smaps: the resident pages of
 * this file's mapping).
 */
class ShardMemoryTest {
    @Test
    void aQ8ShardQuantisesOnlyItsOwnExpertsAndKeepsNoCheckpointPagesOfThem(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "needs Linux /proc/self/smaps");
        // experts of 768 KB, far above the kernel's fault-around window (64 KB), which maps pages next to a touched one
        Path file = writeQwen3MoeBf16(dir, 256, 512, 16, 2);
        long expertBytes = 0;
        try (Arena arena = Arena.ofConfined()) { // unmapped again before anything is measured
            for (Tensor t : Checkpoint.open(dir, arena).tensors().values()) {
                if (t.name().contains(".experts.")) expertBytes += t.data().byteSize();
            }
        }

        CausalLm lm = CausalLm.load(dir, new LoadOptions(true));
        int[] firstHalf = {0, 1, 2, 3, 4, 5, 6, 7};
        long before = residentBytesOfMapping(file);
        ExpertShard shard = lm.expertShard(firstHalf);

        GroupedExperts experts = shard.experts();
        for (int layer : lm.config().moeLayers()) {
            for (int e = 0; e < lm.config().numExperts(); e++) {
                for (WeightMatrix w : List.of(experts.expert(layer, e).gate(), experts.expert(layer, e).up(), experts.expert(layer, e).down())) {
                    DType expected = e < 8 ? DType.Q8_0 : DType.BF16;
                    assertThat(w.dtype()).as("layer %d expert %d %dx%d", layer, e, w.rows(), w.cols()).isEqualTo(expected);
                }
            }
        }
        long resident = residentBytesOfMapping(file);
        System.out.printf("checkpoint mapping resident: %d bytes after loading, %d with the shard's experts, file %d, experts %d%n",
                before, resident, Files.size(file), expertBytes);
        // every expert quantised and its pages left mapped beside the copy: resident ≈ all expert bytes; each page given
        // back as its weight was read but not again after the last: 1.6 MB (the tail of each expert matrix, faulted
        // back in while the next was read); given back again: 0.18 MB, the norms' and routers' pages
        assertThat(resident).as("resident bytes of the checkpoint's mapping").isLessThan(expertBytes / 64);
    }

    /**
     * Memory follows a per-layer placement: a shard quantises exactly the (layer, expert) pairs it is given, its held
     * bytes are those pairs' bytes (not the union of its experts over layers), and releasing an old placement gives
     * back the pairs the new one no longer holds.
     */
    @Test
    void perLayerExpertSetsQuantiseAndHoldOnlyTheirOwnLayerExpertPairs(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "needs Linux /proc/self/smaps");
        Path file = writeQwen3MoeBf16(dir, 256, 512, 16, 2);
        CausalLm lm = CausalLm.load(dir, new LoadOptions(true));
        int[][] perLayer = {{0, 1, 2, 3, 4, 5, 6, 7}, {4, 5, 6, 7, 8, 9, 10, 11}};
        ExpertShard shard = lm.expertShard(perLayer);
        GroupedExperts experts = shard.experts();
        long q8Expert = experts.expert(0, 0).bytes();
        for (int layer = 0; layer < 2; layer++) {
            for (int e = 0; e < 16; e++) {
                int expert = e;
                boolean held = Arrays.stream(perLayer[layer]).anyMatch(x -> x == expert);
                assertThat(experts.expert(layer, e).gate().dtype()).as("layer %d expert %d", layer, e).isEqualTo(held ? DType.Q8_0 : DType.BF16);
                assertThat(shard.owns(layer, e)).isEqualTo(held);
            }
        }
        // 16 (layer, expert) pairs held, where the union over layers (experts 0..11 in both) would be 24
        assertThat(shard.bytes()).isEqualTo(16 * q8Expert);
        assertThat(residentBytesOfMapping(file)).as("resident checkpoint bytes").isLessThan(32 * experts.expert(1, 15).bytes() / 8);

        ExpertShard next = lm.expertShard(new int[][] {{8, 9, 10, 11, 12, 13, 14, 15}, {4, 5, 6, 7, 8, 9, 10, 11}});
        assertThat(experts.expert(0, 12).gate().dtype()).as("loaded beside the old placement").isEqualTo(DType.Q8_0);
        assertThat(experts.expert(0, 0).gate().dtype()).isEqualTo(DType.Q8_0);
        shard.releaseExcept(next);
        assertThat(experts.expert(0, 0).gate().dtype()).as("released: only the new placement holds layer 0").isEqualTo(DType.BF16);
        assertThat(experts.expert(1, 4).gate().dtype()).as("kept: the new placement holds it too").isEqualTo(DType.Q8_0);
        assertThat(next.bytes()).isEqualTo(16 * q8Expert);
    }

    /**
     * A random Qwen3-MoE checkpoint in BF16 (hidden h, expert FFN f, every layer MoE, top-2), weights of magnitude
     * about 1/16; returns its safetensors file.
     */
    static Path writeQwen3MoeBf16(Path dir, int h, int f, int experts, int layers) throws IOException {
        int heads = 4, kv = 2, hd = 64, vocab = 256;
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"], "hidden_size": %d,
                 "intermediate_size": %d, "moe_intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                 "num_key_value_heads": %d, "head_dim": %d, "num_experts": %d, "num_experts_per_tok": 2,
                 "norm_topk_prob": true, "decoder_sparse_step": 1, "mlp_only_layers": [], "vocab_size": %d,
                 "rms_norm_eps": 1e-6, "max_position_embeddings": 256, "tie_word_embeddings": false,
                 "hidden_act": "silu", "attention_bias": false, "rope_theta": 1000000.0, "bos_token_id": 1, "eos_token_id": 2}
                """.formatted(h, 4 * f, f, layers, heads, kv, hd, experts, vocab));
        java.util.Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {vocab, h});
        shapes.put("lm_head.weight", new long[] {vocab, h});
        shapes.put("model.norm.weight", new long[] {h});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {h});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {h});
            shapes.put(p + "self_attn.q_proj.weight", new long[] {heads * hd, h});
            shapes.put(p + "self_attn.k_proj.weight", new long[] {kv * hd, h});
            shapes.put(p + "self_attn.v_proj.weight", new long[] {kv * hd, h});
            shapes.put(p + "self_attn.o_proj.weight", new long[] {h, heads * hd});
            shapes.put(p + "self_attn.q_norm.weight", new long[] {hd});
            shapes.put(p + "self_attn.k_norm.weight", new long[] {hd});
            shapes.put(p + "mlp.gate.weight", new long[] {experts, h});
            for (int e = 0; e < experts; e++) {
                shapes.put(p + "mlp.experts." + e + ".gate_proj.weight", new long[] {f, h});
                shapes.put(p + "mlp.experts." + e + ".up_proj.weight", new long[] {f, h});
                shapes.put(p + "mlp.experts." + e + ".down_proj.weight", new long[] {h, f});
            }
        }
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long n = 2 * Tensor.numel(e.getValue());
            if (header.length() > 1) header.append(',');
            header.append('"').append(e.getKey()).append("\":{\"dtype\":\"BF16\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue())).append(",\"data_offsets\":[").append(offset).append(',')
                    .append(offset + n).append("]}");
            offset += n;
        }
        byte[] json = header.append('}').toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer body = java.nio.ByteBuffer.allocate(8 + json.length + (int) offset).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        body.putLong(json.length).put(json);
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        for (long[] shape : shapes.values()) {
            for (long i = 0; i < Tensor.numel(shape); i++) {
                float v = shape.length == 1 ? 1f : (float) (random.nextGaussian() / 16);
                body.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        Path file = dir.resolve("model.safetensors");
        Files.write(file, body.array());
        return file;
    }

    /** Sum of Rss over this process's mappings of {@code file}. */
    static long residentBytesOfMapping(Path file) throws IOException {
        String path = file.toRealPath().toString();
        long kb = 0;
        boolean inFile = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                inFile = line.endsWith(" " + path);
            } else if (inFile && line.startsWith("Rss:")) {
                kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kb * 1024;
    }
}
