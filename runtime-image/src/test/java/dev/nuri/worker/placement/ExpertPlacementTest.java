package dev.nuri.worker.placement;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ExpertPlacementTest {
    static final String REDUNDANT = """
            {"schemaVersion": 1, "generation": 3, "numExperts": 4, "shards": 2,
             "default": {"shards": [[0, 1], [2, 3]]},
             "layers": [{"layer": 2, "shards": [[0, 1, 3], [2, 3]]}]}""";

    @Test
    void roundRobinPutsExpertEOnShardEModS() {
        ExpertPlacement p = ExpertPlacement.roundRobin(16, 4);
        assertThat(p.expertsOf(1)).containsExactly(1, 5, 9, 13);
        assertThat(p.owners(7)[6]).containsExactly(2);
        assertThat(ExpertPlacement.parse(p.toJson().encode()).expertsOf(3)).containsExactly(3, 7, 11, 15);
    }

    @Test
    void layersOverrideTheDefaultAndMayHoldRedundantCopies() {
        ExpertPlacement p = ExpertPlacement.parse(REDUNDANT);
        assertThat(p.generation()).isEqualTo(3);
        assertThat(p.owners(1)[3]).containsExactly(1);
        assertThat(p.owners(2)[3]).containsExactly(0, 1);
        assertThat(p.expertsOf(0)).containsExactly(0, 1, 3);
    }

    @Test
    void rejectsPlacementsThatLoseAnExpertOrNameAMissingOne() {
        assertThatThrownBy(() -> ExpertPlacement.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "default": {"shards": [[0, 1], [2]]}}"""))
                .isInstanceOf(InvalidPlacementException.class).hasMessageContaining("expert 3 is on no shard");
        assertThatThrownBy(() -> ExpertPlacement.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "default": {"shards": [[0, 1, 9], [2, 3]]}}"""))
                .hasMessageContaining("expert 9 on shard 0 is outside 0..3");
        assertThatThrownBy(() -> ExpertPlacement.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 3, "default": {"shards": [[0, 1], [2, 3]]}}"""))
                .hasMessageContaining("must list exactly 3 shards");
        assertThatThrownBy(() -> ExpertPlacement.parse("{\"schemaVersion\": 2}")).hasMessageContaining("schemaVersion 2");
        assertThatThrownBy(() -> ExpertPlacement.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "layers": [{"layer": 1, "shards": [[0, 1], [2, 3]]}]}""").owners(2))
                .hasMessageContaining("no entry for MoE layer 2");
    }
}
