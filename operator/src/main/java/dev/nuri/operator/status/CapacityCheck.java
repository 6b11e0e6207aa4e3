package dev.nuri.operator.status;

import dev.nuri.operator.accelerator.AcceleratorProfiles;
import dev.nuri.operator.api.v1alpha1.AcceleratorProfile;
import dev.nuri.operator.api.v1alpha1.Architecture;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.Map;
import java.util.Optional;

/**
 * Estimates the weight bytes one shard holds and compares them with its devices' memory before any
 * pod is created. A shard holds all non-expert weights plus its expert slots.
 */
public final class CapacityCheck {

    /** Share of the weights in routed experts, from the published configs. */
    private static final Map<Architecture, Double> EXPERT_SHARE = Map.of(
            Architecture.AXK1, 0.977,          // 192 x 60 layers x 3 x 7168 x 2048 of 519B
            Architecture.DEEPSEEK_V3, 0.97,
            Architecture.QWEN3_MOE, 0.95,      // Qwen3-30B-A3B
            Architecture.MIXTRAL, 0.96);

    /** Sizes of the worker's generated models, which need no declared size. */
    private static final Map<String, Quantity> BUILTIN_SIZES = Map.of(
            "tiny-axk1", new Quantity("32Mi"),
            "tiny-qwen3moe", new Quantity("32Mi"));

    /** Room left on the devices for the KV cache and activations. */
    static final double HEADROOM = 0.9;
    public static final double HEADROOM_PERCENT = HEADROOM * 100;

    public record Estimate(long perShardBytes, long availableBytes) {
        public boolean fits() {
            return perShardBytes <= availableBytes * HEADROOM;
        }
    }

    private CapacityCheck() {}

    /** Empty when either side is unknown: no declared size, or memory that varies by product. */
    public static Optional<Estimate> estimate(ModelDeploymentSpec spec) {
        Optional<Quantity> size = Optional.ofNullable(spec.model.weightsSize)
                .or(() -> Optional.ofNullable(spec.model.source.builtin).map(b -> BUILTIN_SIZES.get(b.name)));
        Optional<Long> available = available(spec);
        if (size.isEmpty() || available.isEmpty()) {
            return Optional.empty();
        }
        long total = bytes(size.get());
        int experts = spec.experts.total;
        int slots = spec.experts.slotsPerShard();
        double share = EXPERT_SHARE.getOrDefault(spec.model.architecture, 0.96);
        double perExpert = total * share / experts;
        long perShard = (long) (total * (1 - share) + perExpert * slots);
        return Optional.of(new Estimate(perShard, available.get()));
    }

    private static Optional<Long> available(ModelDeploymentSpec spec) {
        if (AcceleratorProfiles.profile(spec.accelerator) == AcceleratorProfile.CPU) {
            // On CPU the weights are memory-mapped into the pod: its memory limit is the bound.
            return Optional.ofNullable(spec.resources).map(r -> r.getLimits()).map(l -> l.get("memory")).map(CapacityCheck::bytes);
        }
        return AcceleratorProfiles.deviceMemory(spec.accelerator)
                .map(m -> bytes(m) * AcceleratorProfiles.devicesPerShard(spec.accelerator));
    }

    static long bytes(Quantity q) {
        return Quantity.getAmountInBytes(q).setScale(0, java.math.RoundingMode.CEILING).min(BigDecimal.valueOf(Long.MAX_VALUE)).longValue();
    }

    public static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(java.util.Locale.ROOT, "%.1f%s", v, units[u]);
    }
}
