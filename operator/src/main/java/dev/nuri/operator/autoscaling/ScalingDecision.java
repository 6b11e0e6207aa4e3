package dev.nuri.operator.autoscaling;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * How many groups a deployment should have, as a pure function of what was measured (the shape of
 * GroupRollout.plan). Per target, HPA's rule: {@code ceil(groups measured * value / target)}, nothing
 * when the value is within {@link #TOLERANCE} of the target (for queueLength, up to one request per
 * group above it: {@link #upperBound}). The largest wins. Then, because a group
 * is expensive (16 pods for A.X K1) and takes minutes to load:
 * <ul>
 *   <li>up: only when every recommendation of the last {@code scaleUpStabilization} asks for more (a
 *       spike shorter than that adds nothing), one group at a time, and not while a group is still
 *       starting (what it will absorb is not known yet);</li>
 *   <li>down: to the highest recommendation of the last {@code scaleDownStabilization}, and never
 *       while some group could not be measured (not ready, or its metrics unreadable): what cannot be
 *       read is not taken for idle;</li>
 *   <li>min/max bound the result at once, also after someone scaled by hand past them.</li>
 * </ul>
 */
public final class ScalingDecision {

    /** Within 10% of a target nothing changes, as HPA's default (--horizontal-pod-autoscaler-tolerance). */
    public static final double TOLERANCE = 0.10;

    /**
     * The highest value that asks for no change against {@code goal}. A waiting-request count moves in
     * whole requests, so for queueLength the band above the target is at least one request per group:
     * at a target of 4, 10 % (4.4) took a single extra client (5) for a breach, and a plateau of 8 +- 1
     * clients on the real node added a group (docs/benchmarks.md). Below the target it stays 10 %: an
     * empty queue must still let groups go (also at a target of 1), and the scale-down window damps that
     * side. The other targets are continuous: HPA's 10 % both ways.
     */
    public static double upperBound(Target target, double goal) {
        double hpa = goal * (1 + TOLERANCE);
        return target == Target.QUEUE_LENGTH ? Math.max(hpa, goal + 1) : hpa;
    }

    /** The targets of spec.autoscaling.targets, by field name. */
    public enum Target {
        QUEUE_LENGTH("queueLength"),
        KV_CACHE_USAGE("kvCacheUsagePercent"),
        TIME_TO_FIRST_TOKEN("timeToFirstTokenMillis"),
        INTER_TOKEN_LATENCY("interTokenLatencyMillis");

        public final String field;

        Target(String field) {
            this.field = field;
        }
    }

    /** @param value the measured value in the target's unit; empty when it could not be measured */
    public record Measurement(Target target, double goal, OptionalDouble value) {}

    public record Policy(int minReplicas, int maxReplicas, Duration scaleUpStabilization, Duration scaleDownStabilization) {}

    /**
     * @param replicas       spec.replicas now
     * @param measuredGroups groups whose every shard was ready and read; the values are theirs
     */
    public record Observation(Instant at, int replicas, int readyGroups, int measuredGroups, List<Measurement> measurements) {}

    /** A recommendation of one evaluation; the caller keeps them between evaluations. */
    public record Recommendation(Instant at, int groups) {}

    /** @param groups what this target alone asks for; empty when it was not measured */
    public record Verdict(Measurement measurement, OptionalInt groups) {}

    /**
     * @param desired     what spec.replicas should become
     * @param recommended this evaluation's recommendation, before stabilization
     * @param deciding    the target whose recommendation was the largest
     * @param history     recommendations to pass to the next evaluation
     */
    public record Decision(int desired, int recommended, Optional<Target> deciding, String reason, List<Verdict> verdicts,
                           List<Recommendation> history) {}

    private ScalingDecision() {}

    public static Decision decide(Policy policy, Observation now, List<Recommendation> history) {
        List<Verdict> verdicts = new ArrayList<>();
        for (Measurement m : now.measurements()) {
            verdicts.add(new Verdict(m, groupsFor(m, now.measuredGroups())));
        }
        Optional<Verdict> largest = verdicts.stream().filter(v -> v.groups().isPresent())
                .max(Comparator.comparingInt(v -> v.groups().getAsInt()));
        int raw = largest.map(v -> v.groups().getAsInt()).orElse(now.replicas());
        boolean allMeasured = now.measuredGroups() >= now.replicas() && verdicts.stream().allMatch(v -> v.groups().isPresent());
        int recommended = clamp(allMeasured ? raw : Math.max(raw, now.replicas()), policy); // unreadable is not idle

        Duration keep = max(policy.scaleUpStabilization(), policy.scaleDownStabilization());
        List<Recommendation> kept = new ArrayList<>(inForce(history, now.at(), keep));
        kept.add(new Recommendation(now.at(), recommended));
        List<Recommendation> up = inForce(kept, now.at(), policy.scaleUpStabilization());
        List<Recommendation> down = inForce(kept, now.at(), policy.scaleDownStabilization());
        // a window counts only once the history reaches back over all of it (e.g. not right after a restart)
        boolean upCovered = !up.getFirst().at().isAfter(now.at().minus(policy.scaleUpStabilization()));
        boolean downCovered = !down.getFirst().at().isAfter(now.at().minus(policy.scaleDownStabilization()));
        int upFloor = up.stream().mapToInt(Recommendation::groups).min().orElseThrow();
        int downCeiling = down.stream().mapToInt(Recommendation::groups).max().orElseThrow();

        int replicas = now.replicas();
        int desired = replicas;
        String reason;
        Optional<Target> deciding = largest.map(v -> v.measurement().target());
        if (replicas < policy.minReplicas() || replicas > policy.maxReplicas()) {
            desired = clamp(replicas, policy);
            reason = "spec.replicas " + replicas + " is outside minReplicas..maxReplicas " + policy.minReplicas() + ".."
                    + policy.maxReplicas();
            deciding = Optional.empty();
        } else if (largest.isEmpty()) {
            reason = "no target could be measured; holding " + replicas;
        } else if (upCovered && upFloor > replicas) {
            if (now.readyGroups() < replicas) {
                reason = describe(largest.get()) + ": waiting for the " + (replicas - now.readyGroups())
                        + " starting group(s) to serve before adding another";
            } else {
                desired = replicas + 1;
                reason = describe(largest.get()) + ": adding a group";
            }
        } else if (recommended > replicas) {
            reason = describe(largest.get()) + ": above target for less than the scale-up stabilization window";
        } else if (downCovered && downCeiling < replicas) {
            desired = downCeiling;
            reason = describe(largest.get()) + ": below target for the whole scale-down stabilization window";
        } else if (!allMeasured && raw < replicas) {
            reason = describe(largest.get()) + ": holding, " + (now.replicas() - now.measuredGroups())
                    + " group(s) could not be measured (not ready, or metrics unreadable)";
        } else if (recommended < replicas) {
            reason = describe(largest.get()) + ": below target for less than the scale-down stabilization window";
        } else {
            reason = describe(largest.get()) + ": within target";
        }
        return new Decision(desired, recommended, deciding, reason, verdicts, kept);
    }

    /** HPA's rule for one target, over the groups that were measured. */
    static OptionalInt groupsFor(Measurement m, int measuredGroups) {
        if (m.value().isEmpty() || measuredGroups == 0) return OptionalInt.empty();
        double value = m.value().getAsDouble();
        double ratio = value / m.goal();
        boolean withinBand = value <= upperBound(m.target(), m.goal()) + 1e-9 && ratio >= 1 - TOLERANCE - 1e-9;
        if (withinBand) return OptionalInt.of(measuredGroups);
        return OptionalInt.of((int) Math.ceil(measuredGroups * ratio - 1e-9));
    }

    private static String describe(Verdict v) {
        Measurement m = v.measurement();
        return String.format(java.util.Locale.ROOT, "%s %s against %s asks for %d", m.target().field,
                format(m.value().getAsDouble()), format(m.goal()), v.groups().getAsInt());
    }

    /** A value as status and events show it: at most two decimals, no trailing zeros. */
    public static String format(double value) {
        return java.math.BigDecimal.valueOf(Math.round(value * 100) / 100.0).stripTrailingZeros().toPlainString();
    }

    /** The recommendations of the window, and the one that was in force when it began. */
    private static List<Recommendation> inForce(List<Recommendation> history, Instant now, Duration window) {
        Instant start = now.minus(window);
        List<Recommendation> out = new ArrayList<>();
        for (int i = 0; i < history.size(); i++) {
            boolean inside = !history.get(i).at().isBefore(start);
            boolean lastBefore = !inside && (i + 1 == history.size() || history.get(i + 1).at().isAfter(start));
            if (inside || lastBefore) out.add(history.get(i));
        }
        return out;
    }

    private static int clamp(int groups, Policy policy) {
        return Math.max(policy.minReplicas(), Math.min(policy.maxReplicas(), groups));
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
