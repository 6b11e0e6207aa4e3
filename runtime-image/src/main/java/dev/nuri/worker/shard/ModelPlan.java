package dev.nuri.worker.shard;

import dev.nuri.contract.Quantization;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.LoadOptions;
import dev.nuri.kernels.model.ModelConfig;
import dev.nuri.kernels.weights.Checkpoint;
import dev.nuri.kernels.weights.DType;
import dev.nuri.kernels.weights.Tensor;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.logging.Logger;

/**
 * What {@code --model}, {@code --quantization} and {@code --context-length} ask for, checked against the model's
 * config.json before the shard starts (a cap above the model's context or q8_0 on a builtin model stop the process
 * with a clear message instead of leaving a pod unready). A builtin model is built here already (it is tiny).
 *
 * @param contextLength the effective cap on prompt + completion tokens
 * @param quantization null: the checkpoint's own types
 * @param quantizeLmHead with q8_0, the output head in Q8_0 too
 */
record ModelPlan(String model, Path dir, CausalLm builtin, ModelConfig config, int contextLength, Quantization quantization,
                 boolean quantizeLmHead) {
    private static final Logger LOG = Logger.getLogger(ModelPlan.class.getName());

    static ModelPlan resolve(ShardSettings settings) {
        String model = settings.model();
        Quantization q = settings.quantization();
        CausalLm builtin = null;
        Path dir = null;
        ModelConfig config;
        if (model.startsWith("builtin:")) {
            if (q == Quantization.Q8_0) {
                throw new IllegalArgumentException(ShardSetting.QUANTIZATION.names() + " q8_0 is not available for builtin models ("
                        + model + "): the kernels generate them without load options; use a checkpoint directory for q8_0");
            }
            builtin = CausalLm.builtin(model.substring("builtin:".length()));
            config = builtin.config();
            if (q != null) {
                LOG.warning("--" + ShardSetting.QUANTIZATION.flag() + " " + q.value() + " asked for, but builtin models are generated in F32; serving them as generated");
            }
        } else {
            dir = Path.of(model);
            try {
                config = ModelConfig.read(dir.resolve("config.json"));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot use model " + model + ": " + e.getMessage(), e);
            }
        }
        int max = config.maxPositionEmbeddings();
        int cap = settings.contextLength();
        if (cap > max) {
            throw new IllegalArgumentException(ShardSetting.CONTEXT_LENGTH.names() + " " + cap + " is larger than the model supports ("
                    + model + ": max_position_embeddings " + max + "); set it to at most " + max + " or leave it unset");
        }
        return new ModelPlan(model, dir, builtin, config, cap > 0 ? cap : max, q, settings.quantizeLmHead());
    }

    /** Loads the weights (the slow part); builtin models are already built. */
    CausalLm load() {
        if (builtin != null) return builtin;
        if (quantization == Quantization.BF16 || quantization == Quantization.FP8) warnIfStoredDiffers();
        return CausalLm.load(dir, new LoadOptions(quantization == Quantization.Q8_0, quantizeLmHead));
    }

    /**
     * bf16 / fp8 mean "as stored": say so when most of the checkpoint's weight matrices (by elements; a router or norm
     * kept in F32 does not count) are of another type, but do not convert them.
     */
    private void warnIfStoredDiffers() {
        Map<DType, Long> elements = new EnumMap<>(DType.class);
        try (Arena arena = Arena.ofConfined()) {
            for (Tensor t : Checkpoint.open(dir, arena).tensors().values()) {
                if (t.rank() >= 2 && !t.name().endsWith("_scale_inv")) elements.merge(t.dtype(), t.numel(), Long::sum);
            }
        } catch (RuntimeException e) {
            return; // the load itself reports an unreadable checkpoint
        }
        DType expected = quantization == Quantization.FP8 ? DType.F8_E4M3 : DType.BF16;
        DType stored = elements.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(expected);
        if (stored != expected) {
            LOG.warning("--" + ShardSetting.QUANTIZATION.flag() + " " + quantization.value() + " asked for, but the checkpoint in " + dir + " stores its weight matrices as "
                    + stored + "; serving them as stored (use q8_0 to quantize at load time, or convert the checkpoint)");
        }
    }
}
