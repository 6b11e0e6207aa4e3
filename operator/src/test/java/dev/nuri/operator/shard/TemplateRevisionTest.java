package dev.nuri.operator.shard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.api.v1alpha1.ExpertsSpec;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec;
import dev.nuri.operator.api.v1alpha1.Placement;
import dev.nuri.operator.api.v1alpha1.RebalanceSpec;
import org.junit.jupiter.api.Test;

class TemplateRevisionTest {
    @Test
    void tuningTheRebalancerRestartsNoPodButAnotherPlacementDoes() {
        ModelDeploymentSpec spec = new ModelDeploymentSpec();
        spec.experts = new ExpertsSpec();
        spec.experts.total = 16;
        spec.experts.parallelism = 4;
        String plain = TemplateRevision.of(spec, "img");
        spec.experts.rebalance = new RebalanceSpec();
        spec.experts.rebalance.minGain = 0.2;
        spec.experts.rebalance.enabled = false;
        assertThat(TemplateRevision.of(spec, "img")).isEqualTo(plain);
        spec.experts.placement = Placement.BALANCED;
        assertThat(TemplateRevision.of(spec, "img")).isNotEqualTo(plain);
    }
}
