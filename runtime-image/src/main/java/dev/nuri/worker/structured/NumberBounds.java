package dev.nuri.worker.structured;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The numbers a schema allows, written as {@code -?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?} (no point for integers) and
 * within {@code minimum}/{@code maximum} (each inclusive or exclusive). Answers, for a prefix of such a text, whether
 * some completion is in bounds and how few characters the shortest one adds: the set of values a prefix can still
 * reach is a union of intervals, one per count of further integer digits and of fraction digits.
 */
final class NumberBounds {
    static final int NONE = Integer.MAX_VALUE / 4;
    private final boolean integer;
    private final BigDecimal min, max;
    private final boolean minExclusive, maxExclusive;

    /** @param min null: unbounded below; likewise max */
    NumberBounds(boolean integer, BigDecimal min, boolean minExclusive, BigDecimal max, boolean maxExclusive) {
        this.integer = integer;
        this.min = min;
        this.minExclusive = minExclusive;
        this.max = max;
        this.maxExclusive = maxExclusive;
    }

    private record Parsed(boolean negative, String digits, boolean point, String fraction) {}

    /** null when {@code text} is not a prefix of the number syntax. */
    private Parsed parse(String text) {
        int i = 0;
        boolean negative = text.startsWith("-");
        if (negative) i++;
        int p = text.indexOf('.');
        String digits = p < 0 ? text.substring(i) : text.substring(i, p);
        String fraction = p < 0 ? "" : text.substring(p + 1);
        if (text.indexOf('-', 1) >= 0 || fraction.indexOf('.') >= 0) return null;
        if (p >= 0 && (integer || digits.isEmpty())) return null;
        if (digits.length() > JsonGrammar.INT_DIGITS || fraction.length() > JsonGrammar.FRACTION_DIGITS) return null;
        if (digits.length() > 1 && digits.charAt(0) == '0') return null;
        for (char c : (digits + fraction).toCharArray()) if (c < '0' || c > '9') return null;
        return new Parsed(negative, digits, p >= 0, fraction);
    }

    boolean feasible(String prefix) {
        return shortestCompletion(prefix) < NONE;
    }

    boolean accepts(String text) {
        Parsed p = parse(text);
        if (p == null || p.digits.isEmpty() || (p.point && p.fraction.isEmpty())) return false;
        return inBounds(new BigDecimal(text));
    }

    /** Fewest characters to add to {@code prefix} for a whole number in bounds; {@link #NONE} if there is none. */
    int shortestCompletion(String prefix) {
        Parsed p = parse(prefix);
        if (p == null) return NONE;
        int best = NONE;
        if (prefix.isEmpty()) { // either sign
            best = Math.min(best, shortest(new Parsed(false, "", false, "")));
            int negative = shortest(new Parsed(true, "", false, ""));
            if (negative < NONE) best = Math.min(best, negative + 1);
            return best;
        }
        return shortest(p);
    }

    private int shortest(Parsed p) {
        int best = NONE;
        int maxFraction = integer ? 0 : JsonGrammar.FRACTION_DIGITS;
        if (p.point) {
            BigDecimal base = new BigDecimal(p.digits + "." + (p.fraction.isEmpty() ? "0" : p.fraction));
            int m = p.fraction.length();
            for (int f = Math.max(m, 1); f <= maxFraction; f++) {
                BigDecimal step = BigDecimal.ONE.movePointLeft(f);
                BigDecimal top = base.add(BigDecimal.ONE.movePointLeft(m)).subtract(step);
                if (reachable(p.negative, base, top, f)) best = Math.min(best, f - m);
            }
            return best;
        }
        int maxMore = p.digits.equals("0") ? 0 : JsonGrammar.INT_DIGITS - p.digits.length();
        for (int k = p.digits.isEmpty() ? 1 : 0; k <= maxMore; k++) {
            BigDecimal low, high;
            if (p.digits.isEmpty()) {
                low = k == 1 ? BigDecimal.ZERO : BigDecimal.ONE.movePointRight(k - 1);
                high = BigDecimal.ONE.movePointRight(k).subtract(BigDecimal.ONE);
            } else {
                BigDecimal n = new BigDecimal(p.digits).movePointRight(k);
                low = n;
                high = n.add(BigDecimal.ONE.movePointRight(k)).subtract(BigDecimal.ONE);
            }
            for (int f = 0; f <= maxFraction; f++) {
                int extra = k + (f == 0 ? 0 : 1 + f);
                if (extra >= best) break;
                BigDecimal top = f == 0 ? high : high.add(BigDecimal.ONE).subtract(BigDecimal.ONE.movePointLeft(f));
                if (reachable(p.negative, low, top, f)) best = extra;
            }
        }
        return best;
    }

    /** Whether a multiple of 10^-f with magnitude in [low, high] (negated when negative) lies in bounds. */
    private boolean reachable(boolean negative, BigDecimal low, BigDecimal high, int f) {
        BigDecimal a = negative ? high.negate() : low, b = negative ? low.negate() : high;
        BigDecimal from = min == null ? a : a.max(min);
        BigDecimal candidate = from.setScale(f, RoundingMode.CEILING);
        if (min != null && minExclusive && candidate.compareTo(min) <= 0) candidate = candidate.add(BigDecimal.ONE.movePointLeft(f));
        if (candidate.compareTo(b) > 0) return false;
        return max == null || (maxExclusive ? candidate.compareTo(max) < 0 : candidate.compareTo(max) <= 0);
    }

    private boolean inBounds(BigDecimal v) {
        if (min != null && (minExclusive ? v.compareTo(min) <= 0 : v.compareTo(min) < 0)) return false;
        return max == null || (maxExclusive ? v.compareTo(max) < 0 : v.compareTo(max) <= 0);
    }
}
