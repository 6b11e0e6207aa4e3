package dev.nuri.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.api.v1alpha1.ExpertsSpec;
import dev.nuri.operator.api.v1alpha1.Placement;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ExpertPlacementTest {

    static ExpertsSpec experts(int total, int parallelism, int redundant, Placement placement) {
        ExpertsSpec e = new ExpertsSpec();
        e.total = total;
        e.parallelism = parallelism;
        e.redundant = redundant;
        e.placement = placement;
        return e;
    }

    @Test
    void staticPlacementGivesEachShardAContiguousBlock() {
        ExpertPlacement p = ExpertPlacement.of(experts(192, 16, 0, Placement.STATIC));
        assertThat(p.slots()).hasNumberOfRows(16);
        assertThat(p.slots()[0]).containsExactly(IntStream.range(0, 12).toArray());
        assertThat(p.slots()[15]).containsExactly(IntStream.range(180, 192).toArray());
        assertThat(p.balancedness()).isEqualTo(1.0);
    }

    @Test
    void redundantSlotsCopyDistinctExpertsOntoShardsThatLackThem() {
        ExpertPlacement p = ExpertPlacement.of(experts(16, 4, 4, Placement.STATIC));
        int[] copies = new int[16];
        for (int[] shard : p.slots()) {
            assertThat(shard).hasSize(5).doesNotHaveDuplicates();
            for (int e : shard) copies[e]++;
        }
        assertThat(Arrays.stream(copies).sum()).isEqualTo(20);
        assertThat(copies).containsOnly(1, 2);
        assertThat(p.balancedness()).isLessThan(1.0).isGreaterThan(0.8);
    }

    @Test
    void balancedDealsExpertsRoundRobin() {
        ExpertPlacement p = ExpertPlacement.of(experts(8, 2, 0, Placement.BALANCED));
        assertThat(p.slots()[0]).containsExactly(0, 2, 4, 6);
        assertThat(p.slots()[1]).containsExactly(1, 3, 5, 7);
    }

    @Test
    void fileFollowsTheWorkersSchema() {
        String json = ExpertPlacement.of(experts(4, 2, 0, Placement.STATIC)).toJson(7);
        assertThat(json).isEqualTo("{\"schemaVersion\":1,\"generation\":7,\"numExperts\":4,\"shards\":2,"
                + "\"default\":{\"shards\":[[0,1],[2,3]]}}");
    }
}
