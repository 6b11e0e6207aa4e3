package dev.nuri.kernels.cli;

import dev.nuri.kernels.attention.KvCache;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.LoadOptions;
import dev.nuri.kernels.moe.RoutedExperts;
import dev.nuri.kernels.sampling.Sampler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Command-line spot check: greedy generation from token ids, printed as JSON with the top-5 logits of
 * every step, so a checkpoint can be compared with another implementation without a tokenizer.
 */
public final class KernelsMain {
    private static final String USAGE = """
            usage: nuri-kernels generate --model <dir|builtin:tiny-axk1> --prompt-ids 1,2,3 [--max-new 16] [--q8]
              --model      a Hugging Face directory (config.json + *.safetensors) of axk1, deepseek_v3,
                           qwen3_moe or mixtral, or builtin:tiny-axk1 / builtin:tiny-qwen3moe
              --prompt-ids comma-separated token ids
              --max-new    tokens to generate greedily (default 16; stops early at an eos id)
              --q8         re-quantise linear weights to Q8_0 at load
            usage: nuri-kernels bench --model <dir> [--q8 | --q8-lm-head] [--threads N] [--prompt 256] [--steps 32] [--batch 1,16] [--rounds 3]
              prefill and decode tokens/s, resident memory and the read bandwidth of this machine, in one process
              --q8-lm-head as --q8, and the output head (lm_head) in Q8_0 too, as llama.cpp's Q8_0 files have it
              --shard i/n  only the resident memory of shard i of n (its static block of experts prepared)""";

    private KernelsMain() {}

    public static void main(String[] args) {
        try {
            System.out.println(run(args));
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        }
    }

    static String run(String[] args) {
        if (args.length > 0 && args[0].equals("bench")) return bench(args);
        if (args.length == 0 || !args[0].equals("generate")) throw new IllegalArgumentException("expected the 'generate' or 'bench' command");
        String model = null;
        int[] prompt = null;
        int maxNew = 16;
        boolean q8 = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = value(args, ++i);
                case "--prompt-ids" -> {
                    try {
                        prompt = Arrays.stream(value(args, ++i).split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--prompt-ids must be comma-separated integers");
                    }
                }
                case "--max-new" -> maxNew = Integer.parseInt(value(args, ++i));
                case "--q8" -> q8 = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (model == null || prompt == null || prompt.length == 0) throw new IllegalArgumentException("--model and --prompt-ids are required");
        CausalLm lm;
        if (model.startsWith("builtin:")) {
            lm = CausalLm.builtin(model.substring("builtin:".length()));
        } else {
            Path dir = Path.of(model);
            if (!Files.isDirectory(dir)) throw new IllegalArgumentException(model + " is not a directory");
            lm = CausalLm.load(dir, new LoadOptions(q8));
        }
        return generate(lm, prompt, maxNew, model);
    }

    private static String bench(String[] args) {
        String model = null;
        boolean q8 = false, q8LmHead = false;
        int prompt = 256, steps = 32, rounds = 3;
        int[] batches = {1, 16};
        int[] shard = null;
        try {
            for (int i = 1; i < args.length; i++) {
                switch (args[i]) {
                    case "--model" -> model = value(args, ++i);
                    case "--q8" -> q8 = true;
                    case "--q8-lm-head" -> q8 = q8LmHead = true;
                    case "--threads" -> dev.nuri.kernels.backend.KernelPool.configure(Integer.parseInt(value(args, ++i)));
                    case "--prompt" -> prompt = Integer.parseInt(value(args, ++i));
                    case "--steps" -> steps = Integer.parseInt(value(args, ++i));
                    case "--rounds" -> rounds = Integer.parseInt(value(args, ++i));
                    case "--shard" -> shard = Arrays.stream(value(args, ++i).split("/")).mapToInt(Integer::parseInt).toArray();
                    case "--batch" -> batches = Arrays.stream(value(args, ++i).split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--threads, --prompt, --steps, --rounds, --batch and --shard take whole numbers");
        }
        if (model == null || !Files.isDirectory(Path.of(model))) throw new IllegalArgumentException("--model must name a checkpoint directory");
        if (shard != null) {
            if (shard.length != 2 || shard[0] < 0 || shard[0] >= shard[1]) throw new IllegalArgumentException("--shard takes i/n with 0 <= i < n");
            return DecodeBench.shardMemory(Path.of(model), new LoadOptions(q8, q8LmHead), shard[0], shard[1]);
        }
        return DecodeBench.run(Path.of(model), new LoadOptions(q8, q8LmHead), prompt, steps, batches, rounds);
    }

    static String generate(CausalLm lm, int[] prompt, int maxNew, String name) {
        RoutedExperts experts = lm.localExperts();
        KvCache cache = lm.newCache(prompt.length + maxNew);
        int[] eos = lm.config().eosTokenIds();
        long start = System.nanoTime();
        float[] logits = lm.prefill(prompt, cache, experts);
        StringBuilder steps = new StringBuilder();
        int[] out = new int[maxNew];
        int produced = 0;
        while (produced < maxNew) {
            float[] step = logits;
            int next = Sampler.argmax(step);
            out[produced++] = next;
            if (steps.length() > 0) steps.append(",\n    ");
            steps.append("{\"token\": ").append(next).append(", \"top5\": [")
                    .append(Arrays.stream(Sampler.topLogprobs(step, 5))
                            .map(t -> String.format(Locale.ROOT, "{\"id\": %d, \"logit\": %.6f}", t.token(), step[t.token()]))
                            .collect(Collectors.joining(", ")))
                    .append("]}");
            if (Arrays.stream(eos).anyMatch(e -> e == next) || produced == maxNew) break;
            logits = lm.decode(new int[] {next}, new KvCache[] {cache}, experts)[0];
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return String.format(Locale.ROOT, """
                {
                  "model": "%s",
                  "model_type": "%s",
                  "prompt_ids": %s,
                  "generated_ids": %s,
                  "steps": [
                    %s
                  ],
                  "seconds": %.3f
                }""", name.replace("\\", "\\\\").replace("\"", "\\\""), lm.config().modelType(),
                Arrays.toString(prompt), Arrays.toString(Arrays.copyOf(out, produced)), steps, seconds);
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) throw new IllegalArgumentException(args[i - 1] + " needs a value");
        return args[i];
    }
}
