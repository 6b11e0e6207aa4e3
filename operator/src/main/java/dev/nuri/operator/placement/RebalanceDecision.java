package dev.nuri.operator.placement;

import dev.nuri.contract.ExpertLoad;
import dev.nuri.contract.LoadBalancedPlacement;
import dev.nuri.contract.PlacementFile;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * Whether to move experts, as a pure function of what was observed (the shape of {@code GroupRollout.plan}): the
 * groups' summed load window, the placement in force and when the last rebalance was. A new placement is computed with
 * {@link LoadBalancedPlacement} and rolled out only when the load window holds enough tokens, the minimum interval has
 * passed, and the predicted balancedness gains more than the threshold.
 */
public final class RebalanceDecision {
    private RebalanceDecision() {}

    public record Policy(double minGain, Duration minInterval, long minTokens) {}

    /**
     * @param lastRebalance null when this deployment was never rebalanced
     */
    public record Observation(Instant now, Instant lastRebalance, PlacementFile current, ExpertLoad load,
                              LoadBalancedPlacement.Shape shape) {}

    /**
     * @param next the placement to roll out; null to keep the one in force
     * @param before balancedness of the measured load under the placement in force
     * @param after the same under {@code next} (or under the placement in force when there is none)
     */
    public record Decision(PlacementFile next, double before, double after, String reason) {}

    public static Decision decide(Policy policy, Observation o) {
        var weights = o.load().expertWeights();
        double before = LoadBalancedPlacement.meanBalancedness(o.current(), weights);
        long tokens = o.load().total();
        if (tokens < policy.minTokens()) {
            return new Decision(null, before, before, "the load window holds fewer than " + policy.minTokens()
                    + " routed tokens (spec.experts.rebalance.minTokens)");
        }
        if (o.lastRebalance() != null && o.now().isBefore(o.lastRebalance().plus(policy.minInterval()))) {
            return new Decision(null, before, before, "last rebalance at " + o.lastRebalance() + "; the next no sooner than "
                    + o.lastRebalance().plus(policy.minInterval()));
        }
        PlacementFile candidate = LoadBalancedPlacement.plan(weights, o.shape(), o.current().generation() + 1);
        double after = LoadBalancedPlacement.meanBalancedness(candidate, weights);
        if (after - before <= policy.minGain()) {
            return new Decision(null, before, before, String.format(Locale.ROOT,
                    "balancedness %.3f; a new placement would give %.3f, not more than %.3f better", before, after, policy.minGain()));
        }
        return new Decision(candidate, before, after, String.format(Locale.ROOT,
                "balancedness %.3f -> %.3f (predicted) over %d routed tokens", before, after, tokens));
    }
}
