package dev.nuri.operator.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.nuri.operator.api.v1alpha1.AcceleratorProfile;
import dev.nuri.operator.api.v1alpha1.AcceleratorSpec;
import dev.nuri.operator.api.v1alpha1.Architecture;
import dev.nuri.operator.api.v1alpha1.ExpertsSpec;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec;
import dev.nuri.operator.api.v1alpha1.ModelSource;
import dev.nuri.operator.api.v1alpha1.ModelSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import org.junit.jupiter.api.Test;

/** The per-shard memory estimate against the devices, on the published model sizes. */
class CapacityCheckTest {

    static final double GI = 1024.0 * 1024 * 1024;

    /** A.X K1 in BF16 (1040 GiB, 192 routed experts holding 97.7% of the weights) from a PVC. */
    static ModelDeploymentSpec axk1(int parallelism, AcceleratorProfile profile) {
        ModelDeploymentSpec spec = new ModelDeploymentSpec();
        spec.model = new ModelSpec();
        spec.model.architecture = Architecture.AXK1;
        spec.model.source = new ModelSource();
        spec.model.source.pvc = new ModelSource.PvcSource();
        spec.model.source.pvc.claimName = "axk1";
        spec.model.weightsSize = new Quantity("1040Gi");
        spec.experts = new ExpertsSpec();
        spec.experts.total = 192;
        spec.experts.parallelism = parallelism;
        spec.accelerator = new AcceleratorSpec();
        spec.accelerator.profile = profile;
        return spec;
    }

    @Test
    void axk1OnSixteenRebelShardsFits() {
        var estimate = CapacityCheck.estimate(axk1(16, AcceleratorProfile.REBELLIONS_REBEL)).orElseThrow();
        // 2.3% dense weights on every shard + 12 of 192 experts' 97.7%
        double expected = 1040 * (0.023 + 0.977 * 12 / 192);
        assertThat(estimate.perShardBytes() / GI).isCloseTo(expected, within(0.01));
        assertThat(estimate.availableBytes() / GI).as("one REBEL: 144 GiB").isEqualTo(144.0);
        assertThat(estimate.fits()).isTrue();
    }

    @Test
    void axk1OnSixteenAtomShardsDoesNotFitUntilEachShardHasMoreDevices() {
        ModelDeploymentSpec spec = axk1(16, AcceleratorProfile.REBELLIONS_ATOM);
        var estimate = CapacityCheck.estimate(spec).orElseThrow();
        assertThat(estimate.availableBytes() / GI).as("one ATOM: 16 GiB").isEqualTo(16.0);
        assertThat(estimate.fits()).isFalse();

        spec.accelerator.perShard = 8;
        estimate = CapacityCheck.estimate(spec).orElseThrow();
        assertThat(estimate.availableBytes() / GI).as("8 ATOMs per shard").isEqualTo(128.0);
        assertThat(estimate.fits()).isTrue();
    }

    @Test
    void redundantSlotsAreWeightsTheShardHolds() {
        ModelDeploymentSpec spec = axk1(16, AcceleratorProfile.REBELLIONS_REBEL);
        spec.experts.redundant = 32; // 14 slots per shard instead of 12
        double expected = 1040 * (0.023 + 0.977 * 14 / 192);
        assertThat(CapacityCheck.estimate(spec).orElseThrow().perShardBytes() / GI).isCloseTo(expected, within(0.01));
    }

    @Test
    void onCpuThePodsMemoryLimitIsTheBound() {
        ModelDeploymentSpec spec = axk1(16, AcceleratorProfile.CPU);
        assertThat(CapacityCheck.estimate(spec)).as("no memory limit: nothing to compare with").isEmpty();
        spec.resources = new ResourceRequirementsBuilder().addToLimits("memory", new Quantity("96Gi")).build();
        var estimate = CapacityCheck.estimate(spec).orElseThrow();
        assertThat(estimate.availableBytes() / GI).isEqualTo(96.0);
        assertThat(estimate.fits()).as("87 GiB of weights in 96 GiB, 90% usable").isFalse();
    }

    @Test
    void aBuiltinModelNeedsNoDeclaredSize() {
        ModelDeploymentSpec spec = axk1(4, AcceleratorProfile.CPU);
        spec.model.weightsSize = null;
        spec.model.source.pvc = null;
        spec.model.source.builtin = new ModelSource.BuiltinSource();
        spec.model.source.builtin.name = "tiny-axk1";
        spec.experts.total = 16;
        spec.resources = new ResourceRequirementsBuilder().addToLimits("memory", new Quantity("1Gi")).build();
        var estimate = CapacityCheck.estimate(spec).orElseThrow();
        assertThat(estimate.perShardBytes()).isPositive().isLessThan(32L << 20);
        assertThat(estimate.fits()).isTrue();
    }

    @Test
    void unknownSizeOrDeviceMemoryGivesNoEstimate() {
        ModelDeploymentSpec spec = axk1(16, AcceleratorProfile.NVIDIA_GPU);
        assertThat(CapacityCheck.estimate(spec)).as("GPU memory varies by product").isEmpty();
        spec.accelerator.deviceMemory = new Quantity("80Gi");
        spec.accelerator.perShard = 2;
        assertThat(CapacityCheck.estimate(spec).orElseThrow().availableBytes() / GI).isEqualTo(160.0);

        spec.model.weightsSize = null;
        assertThat(CapacityCheck.estimate(spec)).as("a checkpoint of unknown size").isEmpty();
    }

    @Test
    void tenPercentOfTheDevicesStayFreeForTheKvCache() {
        assertThat(new CapacityCheck.Estimate(90, 100).fits()).isTrue();
        assertThat(new CapacityCheck.Estimate(91, 100).fits()).isFalse();
    }

    @Test
    void sizesReadAsKubernetesQuantities() {
        assertThat(CapacityCheck.human(0)).isEqualTo("0.0B");
        assertThat(CapacityCheck.human(1536)).isEqualTo("1.5KiB");
        assertThat(CapacityCheck.human(1040L << 30)).isEqualTo("1.0TiB");
        assertThat(CapacityCheck.bytes(new Quantity("1.5Gi"))).isEqualTo(3L << 29);
    }
}
