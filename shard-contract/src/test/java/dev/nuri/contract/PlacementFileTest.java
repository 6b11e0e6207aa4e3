package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PlacementFileTest {
    static final String REDUNDANT = """
            {"schemaVersion": 1, "generation": 3, "numExperts": 4, "shards": 2,
             "default": {"shards": [[0, 1], [2, 3]]},
             "layers": [{"layer": 2, "shards": [[0, 1, 3], [2, 3]]}]}""";

    @Test
    void staticGivesEachShardAContiguousBlock() {
        PlacementFile p = PlacementStrategy.STATIC.layout(192, 16, 0, 1);
        assertThat(p.defaultSlots()).hasNumberOfRows(16);
        assertThat(p.defaultSlots()[0]).containsExactly(IntStream.range(0, 12).toArray());
        assertThat(p.defaultSlots()[15]).containsExactly(IntStream.range(180, 192).toArray());
        assertThat(p.expertsOf(1)).containsExactly(IntStream.range(12, 24).toArray());
        assertThat(p.owners(7)[13]).containsExactly(1);
        assertThat(p.balancedness()).isEqualTo(1.0);
    }

    @Test
    void balancedDealsExpertsRoundRobin() {
        PlacementFile p = PlacementStrategy.BALANCED.layout(8, 2, 0, 1);
        assertThat(p.defaultSlots()[0]).containsExactly(0, 2, 4, 6);
        assertThat(p.defaultSlots()[1]).containsExactly(1, 3, 5, 7);
    }

    @Test
    void redundantSlotsCopyDistinctExpertsOntoShardsThatLackThem() {
        PlacementFile p = PlacementStrategy.STATIC.layout(16, 4, 4, 1);
        int[] copies = new int[16];
        for (int[] shard : p.defaultSlots()) {
            assertThat(shard).hasSize(5).doesNotHaveDuplicates();
            for (int e : shard) copies[e]++;
        }
        assertThat(Arrays.stream(copies).sum()).isEqualTo(20);
        assertThat(copies).containsOnly(1, 2);
        assertThat(p.balancedness()).isLessThan(1.0).isGreaterThan(0.8);
    }

    @Test
    void writtenFileParsesBackToTheSameLayout() {
        PlacementFile written = PlacementStrategy.BALANCED.layout(16, 4, 4, 7);
        PlacementFile read = PlacementFile.parse(written.toJson());
        assertThat(read.generation()).isEqualTo(7);
        assertThat(read.defaultSlots()).isDeepEqualTo(written.defaultSlots());
        PlacementFile layered = PlacementFile.parse(REDUNDANT);
        assertThat(PlacementFile.parse(layered.toJson()).owners(2)).isDeepEqualTo(layered.owners(2));
    }

    @Test
    void layersOverrideTheDefaultAndMayHoldRedundantCopies() {
        PlacementFile p = PlacementFile.parse(REDUNDANT);
        assertThat(p.generation()).isEqualTo(3);
        assertThat(p.owners(1)[3]).containsExactly(1);
        assertThat(p.owners(2)[3]).containsExactly(0, 1);
        assertThat(p.expertsOf(0)).containsExactly(0, 1, 3);
    }

    @Test
    void rejectsPlacementsThatLoseAnExpertOrNameAMissingOne() {
        assertThatThrownBy(() -> PlacementFile.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "default": {"shards": [[0, 1], [2]]}}"""))
                .isInstanceOf(InvalidPlacementException.class).hasMessageContaining("expert 3 is on no shard");
        assertThatThrownBy(() -> PlacementFile.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "default": {"shards": [[0, 1, 9], [2, 3]]}}"""))
                .hasMessageContaining("expert 9 on shard 0 is outside 0..3");
        assertThatThrownBy(() -> PlacementFile.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "layers": [{"layer": 1, "shards": [[0, 1, 1], [2, 3]]}]}"""))
                .hasMessageContaining("layer 1: expert 1 appears twice on shard 0");
        assertThatThrownBy(() -> PlacementFile.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 3, "default": {"shards": [[0, 1], [2, 3]]}}"""))
                .hasMessageContaining("must list exactly 3 shards");
        assertThatThrownBy(() -> PlacementFile.parse("{\"schemaVersion\": 2}")).hasMessageContaining("schemaVersion 2");
        assertThatThrownBy(() -> PlacementFile.parse("{\"schemaVersion\": 1,")).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> PlacementFile.parse("""
                {"schemaVersion": 1, "numExperts": 4, "shards": 2, "layers": [{"layer": 1, "shards": [[0, 1], [2, 3]]}]}""").owners(2))
                .hasMessageContaining("no entry for MoE layer 2");
    }

    @Test
    void validateForChecksTheModelAndTheGroup() {
        PlacementFile p = PlacementFile.parse(REDUNDANT);
        assertThat(p.validateFor(4, 2, new int[] {1, 2, 3})).isSameAs(p);
        assertThatThrownBy(() -> p.validateFor(8, 2, new int[] {1})).hasMessageContaining("is for 4 experts, the model has 8");
        assertThatThrownBy(() -> p.validateFor(4, 4, new int[] {1})).hasMessageContaining("is for 2 shards, this group has 4");
    }
}
