package dev.nuri.operator.accelerator;

import dev.nuri.operator.api.v1alpha1.AcceleratorProfile;
import dev.nuri.operator.api.v1alpha1.AcceleratorSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How each accelerator family is requested and found (design notes, ../shared/design/ARCHITECTURE.md
 * beside the repository, "Accelerators"; the fake nodes of the tests use hack/profiles.tsv): the
 * extended resource, the node labels that select its nodes and the memory of one device.
 * NPU nodes are commonly tainted with their resource name, so a profile also tolerates it.
 */
public final class AcceleratorProfiles {

    /** One family; {@code resource} is empty for cpu, {@code deviceMemory} empty where it varies by product. */
    public record Profile(Optional<String> resource, Map<String, String> nodeLabels, Optional<Quantity> deviceMemory) {}

    private static final Map<AcceleratorProfile, Profile> PROFILES = Map.of(
            AcceleratorProfile.REBELLIONS_ATOM, new Profile(Optional.of("rebellions.ai/ATOM"),
                    Map.of("rebellions.ai/npu.present", "true", "rebellions.ai/npu.family", "atom"),
                    Optional.of(new Quantity("16Gi"))),
            AcceleratorProfile.REBELLIONS_REBEL, new Profile(Optional.of("rebellions.ai/REBEL"),
                    Map.of("rebellions.ai/npu.family", "rebel"), Optional.of(new Quantity("144Gi"))),
            AcceleratorProfile.FURIOSA_RNGD, new Profile(Optional.of("furiosa.ai/rngd"),
                    Map.of("furiosa.ai/npu.family", "rngd"), Optional.of(new Quantity("48Gi"))),
            AcceleratorProfile.HUAWEI_ASCEND910, new Profile(Optional.of("huawei.com/Ascend910"),
                    Map.of("accelerator", "huawei-Ascend910"), Optional.of(new Quantity("64Gi"))),
            AcceleratorProfile.NVIDIA_GPU, new Profile(Optional.of("nvidia.com/gpu"),
                    Map.of("nvidia.com/gpu.present", "true"), Optional.empty()),
            AcceleratorProfile.CPU, new Profile(Optional.empty(), Map.of(), Optional.empty()));

    private AcceleratorProfiles() {}

    public static Profile of(AcceleratorSpec spec) {
        return PROFILES.get(profile(spec));
    }

    public static AcceleratorProfile profile(AcceleratorSpec spec) {
        return spec == null ? AcceleratorProfile.CPU : spec.profile();
    }

    /** The extended resource a shard requests, honouring the user's override; empty for cpu. */
    public static Optional<String> resourceName(AcceleratorSpec spec) {
        if (spec != null && spec.resourceName != null && !spec.resourceName.isBlank()) {
            return Optional.of(spec.resourceName);
        }
        return of(spec).resource();
    }

    public static int devicesPerShard(AcceleratorSpec spec) {
        return spec == null ? AcceleratorSpec.DEFAULT_PER_SHARD : spec.perShard();
    }

    public static Optional<Quantity> deviceMemory(AcceleratorSpec spec) {
        if (spec != null && spec.deviceMemory != null) {
            return Optional.of(spec.deviceMemory);
        }
        return of(spec).deviceMemory();
    }

    /** Tolerates the taint NPU nodes carry for their resource, whatever its value. */
    public static List<Toleration> tolerations(AcceleratorSpec spec) {
        return resourceName(spec).map(r -> List.of(new TolerationBuilder()
                .withKey(r).withOperator("Exists").withEffect("NoSchedule").build())).orElse(List.of());
    }
}
