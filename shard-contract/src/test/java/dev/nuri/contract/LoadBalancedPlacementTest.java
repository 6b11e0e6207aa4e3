package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class LoadBalancedPlacementTest {

    @Test
    void heaviestFirstIntoTheLeastLoadedShardWithRoom() {
        // by hand: 0 (10) -> s0, 3 (8) -> s1, 1 (1) -> s1 (9), 2 (1) -> s0, since s1 is full
        int[][] slots = LoadBalancedPlacement.layer(new double[] {10, 1, 1, 8}, new LoadBalancedPlacement.Shape(4, 2, 0, 1, 1));
        assertThat(slots[0]).containsExactly(0, 2);
        assertThat(slots[1]).containsExactly(3, 1);
        assertThat(LoadBalancedPlacement.balancedness(slots, new double[] {10, 1, 1, 8})).isCloseTo(10.0 / 11, within(1e-12));
    }

    @Test
    void redundantSlotsCopyTheExpertWithTheMostLoadPerCopyButNeverTwiceOnAShard() {
        double[] load = {12, 2, 2, 4};
        // by hand: the two spare slots go to 0 (12 -> 6 per copy), then 3 (0 has a copy on both shards already);
        // copies 0 0 1 2 3 3 weigh 6 6 2 2 2 2: s0 gets 0 1 3, s1 gets 0 2 3, 10 each
        int[][] slots = LoadBalancedPlacement.layer(load, new LoadBalancedPlacement.Shape(4, 2, 2, 1, 1));
        assertThat(slots[0]).containsExactly(0, 1, 3);
        assertThat(slots[1]).containsExactly(0, 2, 3);
        assertThat(LoadBalancedPlacement.balancedness(slots, load)).isEqualTo(1.0);
        // round-robin with the same spare slots copies 1 and 0: 6+2+1 against 1+4+6
        int[][] roundRobin = PlacementStrategy.BALANCED.layout(4, 2, 2, 0).defaultSlots();
        assertThat(LoadBalancedPlacement.balancedness(roundRobin, load)).isCloseTo(10.0 / 11, within(1e-12));
    }

    @Test
    void expertGroupsStayOnOneNodeWhenTheGroupSpansNodes() {
        double[] load = {8, 8, 1, 1, 4, 4, 3, 3};
        // groups of 2 weigh 16 2 8 6: node 0 takes groups 0 and 1, node 1 groups 2 and 3; inside node 0, 0 and 1 go
        // to shards 0 and 1 first, then 2 and 3 to whichever is lighter (equal: the lower)
        int[][] slots = LoadBalancedPlacement.layer(load, new LoadBalancedPlacement.Shape(8, 4, 0, 4, 2));
        assertThat(slots).isDeepEqualTo(new int[][] {{0, 2}, {1, 3}, {4, 6}, {5, 7}});
        // groups of 4 experts cannot be split over 2 nodes of 2 slots each evenly by group: 3 groups over 2 nodes fall
        // back to the global policy, which packs 0 1 4 5 6 7 first, then 2 and 3 onto the two lightest shards with room
        int[][] global = LoadBalancedPlacement.layer(new double[] {8, 8, 1, 1, 4, 4, 3, 3, 0}, new LoadBalancedPlacement.Shape(9, 3, 0, 3, 2));
        assertThat(global).isDeepEqualTo(new int[][] {{0, 6, 3}, {1, 7, 8}, {4, 5, 2}});
    }

    @Test
    void everyExpertIsPlacedInEveryLayerSlotCountsHoldAndLoadIsNeverWorseThanRoundRobin() {
        SplittableRandom random = new SplittableRandom(16);
        int cases = 0;
        double worstRoundRobin = 1, worstBalanced = 1;
        for (int[] shape : new int[][] {{16, 4, 0}, {16, 4, 4}, {16, 8, 8}, {64, 8, 8}, {64, 16, 16}, {192, 16, 0}, {192, 16, 16}, {12, 3, 3}}) {
            int experts = shape[0], shards = shape[1], redundant = shape[2];
            for (int trial = 0; trial < 40; trial++, cases++) {
                double[] load = skewed(random, experts, 0.5 + 2.5 * random.nextDouble());
                var fit = new LoadBalancedPlacement.Shape(experts, shards, redundant, 1, 1);
                PlacementFile placement = LoadBalancedPlacement.plan(Map.of(1, load, 2, reversed(load)), fit, 5);
                for (int layer : new int[] {1, 2}) {
                    int[][] slots = placement.slots(layer);
                    assertThat(slots).hasNumberOfRows(shards);
                    for (int[] shard : slots) assertThat(shard).hasSize(fit.slotsPerShard()).doesNotHaveDuplicates();
                    assertThat(Arrays.stream(slots).flatMapToInt(Arrays::stream).distinct().count()).isEqualTo(experts);
                }
                double[] perLayer = layerOneMax(placement.slots(1), load);
                int[][] roundRobin = PlacementStrategy.BALANCED.layout(experts, shards, redundant, 0).defaultSlots();
                double rrMax = layerOneMax(roundRobin, load)[0];
                assertThat(perLayer[0]).as("largest shard load, %d experts on %d shards + %d spare, load %s", experts, shards,
                        redundant, Arrays.toString(load)).isLessThanOrEqualTo(rrMax + 1e-9);
                worstRoundRobin = Math.min(worstRoundRobin, LoadBalancedPlacement.balancedness(roundRobin, load));
                worstBalanced = Math.min(worstBalanced, LoadBalancedPlacement.balancedness(placement.slots(1), load));
            }
        }
        System.out.printf("%d random skews: worst balancedness round-robin %.3f, load-balanced %.3f%n", cases, worstRoundRobin, worstBalanced);
        assertThat(worstBalanced).isGreaterThan(worstRoundRobin);
    }

    @Test
    void hierarchicalPlacementsKeepEveryCopyOfAnExpertOnItsGroupsNode() {
        SplittableRandom random = new SplittableRandom(7);
        for (int trial = 0; trial < 50; trial++) {
            // A.X K1's routing shape scaled down: 8 expert groups, the group over 2 nodes of 4 shards
            double[] load = skewed(random, 64, 2);
            int[][] slots = LoadBalancedPlacement.layer(load, new LoadBalancedPlacement.Shape(64, 8, 8, 8, 2));
            int[] nodeOfGroup = new int[8];
            Arrays.fill(nodeOfGroup, -1);
            for (int s = 0; s < 8; s++) {
                assertThat(slots[s]).hasSize(9).doesNotHaveDuplicates();
                for (int e : slots[s]) {
                    int node = s / 4, group = e / 8;
                    assertThat(nodeOfGroup[group]).as("node of group %d", group).isIn(-1, node);
                    nodeOfGroup[group] = node;
                }
            }
            assertThat(nodeOfGroup).doesNotContain(-1);
        }
    }

    @Test
    void refusesLoadThatDoesNotFitTheModel() {
        var fit = new LoadBalancedPlacement.Shape(4, 2, 0, 1, 1);
        assertThatThrownBy(() -> LoadBalancedPlacement.layer(new double[] {1, 2, 3}, fit)).hasMessageContaining("3 experts, the model has 4");
        assertThatThrownBy(() -> LoadBalancedPlacement.layer(new double[] {1, -2, 3, 4}, fit)).hasMessageContaining("non-negative");
        assertThatThrownBy(() -> new LoadBalancedPlacement.Shape(4, 3, 0, 1, 1)).hasMessageContaining("do not divide");
    }

    /** Expert loads that fall off as a power of a shuffled rank: exponent 0 is uniform, 3 very skewed. */
    static double[] skewed(SplittableRandom random, int experts, double exponent) {
        int[] rank = random.ints(0, Integer.MAX_VALUE).limit(experts).toArray();
        Integer[] order = new Integer[experts];
        for (int i = 0; i < experts; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(rank[a], rank[b]));
        double[] load = new double[experts];
        for (int i = 0; i < experts; i++) load[order[i]] = Math.rint(10_000 / Math.pow(i + 1, exponent));
        return load;
    }

    private static double[] reversed(double[] load) {
        double[] r = new double[load.length];
        for (int i = 0; i < load.length; i++) r[i] = load[load.length - 1 - i];
        return r;
    }

    private static double[] layerOneMax(int[][] slots, double[] load) {
        return new double[] {Arrays.stream(LoadBalancedPlacement.shardLoad(slots, load)).max().orElseThrow()};
    }
}
