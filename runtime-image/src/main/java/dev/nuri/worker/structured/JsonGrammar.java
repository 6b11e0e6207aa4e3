package dev.nuri.worker.structured;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a constrained output may be, as a tree of JSON values (compiled from a JSON schema by {@link SchemaCompiler}),
 * and the byte-level pushdown matcher that follows a text through it.
 *
 * <p>The matcher's state is a set of stacks (several while alternatives of an {@code anyOf} or a value that may end or
 * go on are both alive); a stack holds one immutable {@link Frame} per open JSON value, so states compare by value and
 * a {@link TokenAutomaton} can cache a vocabulary mask per state. Output is compact JSON: no whitespace, strings of
 * printable ASCII without escapes, numbers without exponents. That is a subset of what a schema allows, chosen so that
 * every state has a shortest way to finish (see {@link #distance}), which is what lets decoding always end in valid JSON
 * within {@code max_tokens}.
 */
public final class JsonGrammar {
    /** Most digits before and after the point of a generated number: keeps values within a double's exact range. */
    static final int INT_DIGITS = 15, FRACTION_DIGITS = 6;

    private final Node root;

    JsonGrammar(Node root) {
        this.root = root;
    }

    /** Fixed text, then values of schemas, in order: {@code parts} are Strings or compiled grammars. */
    public static JsonGrammar concat(List<Object> parts) {
        List<Node> nodes = new ArrayList<>();
        for (Object p : parts) {
            if (p instanceof String text) {
                if (!text.isEmpty()) nodes.add(new Literals(List.of(text)));
            } else {
                nodes.add(((JsonGrammar) p).root);
            }
        }
        return new JsonGrammar(new Concat(nodes));
    }

    /** Any one of {@code grammars}. */
    public static JsonGrammar choice(List<JsonGrammar> grammars) {
        return new JsonGrammar(new AnyOf(grammars.stream().map(g -> g.root).toList()));
    }

    /** The matcher's start: nothing written yet. */
    public State start() {
        List<Stack> out = new ArrayList<>();
        push(root, null, out);
        return State.of(out);
    }

    /** The state after {@code bytes}, or null when they cannot be written here. */
    public State advance(State s, byte[] bytes) {
        State at = s;
        for (byte b : bytes) {
            at = step(at, b & 0xff);
            if (at == null) return null;
        }
        return at;
    }

    /** The state after one byte, or null. */
    State step(State s, int b) {
        List<Stack> out = new ArrayList<>(2);
        for (Stack st : s.stacks()) step(st, b, out);
        return out.isEmpty() ? null : State.of(out);
    }

    /** Whether the text so far is a whole value of the grammar. */
    public boolean complete(State s) {
        for (Stack st : s.stacks()) if (complete(st)) return true;
        return false;
    }

    /** Fewest bytes that make the text so far a whole value. */
    public int distance(State s) {
        int best = Integer.MAX_VALUE;
        for (Stack st : s.stacks()) best = Math.min(best, distance(st));
        return best;
    }

    private static boolean complete(Stack st) {
        for (Stack at = st; at != null; at = at.rest) if (!at.top.canEnd()) return false;
        return true;
    }

    private static int distance(Stack st) {
        long sum = 0;
        for (Stack at = st; at != null; at = at.rest) sum += at.top.minRest();
        return (int) Math.min(Integer.MAX_VALUE, sum);
    }

    private static void step(Stack st, int b, List<Stack> out) {
        st.top.consume(b, st.rest, out);
        // a value that may end here (a number, a finished literal) hands the byte to its parent
        if (st.top.canEnd() && st.rest != null) step(st.rest, b, out);
    }

    /** Opens {@code node} on top of {@code below}: one stack per alternative. */
    static void push(Node node, Stack below, List<Stack> out) {
        if (node instanceof AnyOf any) {
            for (Node alt : any.alternatives) push(alt, below, out);
        } else {
            out.add(new Stack(node.start(), below));
        }
    }

    /** Opens {@code node} on top of {@code below} and feeds it its first byte. */
    static void pushAndStep(Node node, Stack below, int b, List<Stack> out) {
        List<Stack> opened = new ArrayList<>(1);
        push(node, below, opened);
        for (Stack st : opened) st.top.consume(b, st.rest, out);
    }

    // ---- state -------------------------------------------------------------------------------------------------

    /** A set of alive stacks, compared by value. */
    public record State(java.util.Set<Stack> stacks) {
        static State of(List<Stack> stacks) {
            return new State(java.util.Set.copyOf(stacks));
        }
    }

    /** An immutable stack of frames; hash cached, equality by value. */
    static final class Stack {
        final Frame top;
        final Stack rest;
        private final int hash;

        Stack(Frame top, Stack rest) {
            this.top = top;
            this.rest = rest;
            this.hash = top.hashCode() * 31 + (rest == null ? 0 : rest.hash);
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) return true;
            if (!(o instanceof Stack s) || s.hash != hash) return false;
            return top.equals(s.top) && java.util.Objects.equals(rest, s.rest);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    // ---- nodes (identity equality: frames compare them by reference) ------------------------------------------

    sealed interface Node permits AnyOf, Literals, Text, Numeric, Sequence, Record, Mapping, Concat {
        Frame start();

        /** Fewest bytes of a whole value. */
        int minLength();
    }

    /** Parts written one after the other: fixed text around JSON values (a tool call in a model family's syntax). */
    static final class Concat implements Node {
        final Node[] parts;

        Concat(List<Node> parts) {
            this.parts = parts.toArray(Node[]::new);
        }

        @Override
        public Frame start() {
            return new ConcatFrame(this, 0);
        }

        @Override
        public int minLength() {
            return restFrom(0);
        }

        int restFrom(int index) {
            long sum = 0;
            for (int i = index; i < parts.length; i++) sum += parts[i].minLength();
            return (int) Math.min(Integer.MAX_VALUE / 4, sum);
        }
    }

    /** One of several schemas ({@code anyOf}, a list of types). */
    static final class AnyOf implements Node {
        final List<Node> alternatives;

        AnyOf(List<Node> alternatives) {
            this.alternatives = alternatives;
        }

        @Override
        public Frame start() {
            throw new IllegalStateException("anyOf is expanded by push");
        }

        @Override
        public int minLength() {
            return alternatives.stream().mapToInt(Node::minLength).min().orElse(Integer.MAX_VALUE);
        }
    }

    /** One of a fixed set of texts: enum, const, true/false/null, the fixed text of a tool call. */
    static final class Literals implements Node {
        final byte[][] options;

        Literals(List<String> jsonTexts) {
            options = jsonTexts.stream().map(t -> t.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        }

        @Override
        public Frame start() {
            return new LiteralFrame(this, "");
        }

        @Override
        public int minLength() {
            return Arrays.stream(options).mapToInt(o -> o.length).min().orElse(Integer.MAX_VALUE);
        }
    }

    /** A string of printable ASCII without escapes; lengths in characters. */
    static final class Text implements Node {
        final int minLength, maxLength;

        Text(int minLength, int maxLength) {
            this.minLength = minLength;
            this.maxLength = maxLength;
        }

        @Override
        public Frame start() {
            return new TextFrame(this, 0, 0);
        }

        @Override
        public int minLength() {
            return minLength + 2;
        }
    }

    /** An integer or a number within bounds ({@link NumberBounds}). */
    static final class Numeric implements Node {
        final NumberBounds bounds;
        final int minLength;

        Numeric(NumberBounds bounds) {
            this.bounds = bounds;
            this.minLength = bounds.shortestCompletion("");
        }

        @Override
        public Frame start() {
            return new NumberFrame(this, "");
        }

        @Override
        public int minLength() {
            return minLength;
        }
    }

    /** An array of {@code items}, between {@code minItems} and {@code maxItems} long. */
    static final class Sequence implements Node {
        Node items;
        final int minItems, maxItems;

        Sequence(Node items, int minItems, int maxItems) {
            this.items = items;
            this.minItems = minItems;
            this.maxItems = maxItems;
        }

        @Override
        public Frame start() {
            return new ArrayFrame(this, 0, ArrayFrame.BEFORE);
        }

        @Override
        public int minLength() {
            return minItems == 0 ? 2 : 2 + minItems * items.minLength() + minItems - 1; // items may refer back to this array
        }

        /** Bytes still needed after an item when {@code count} items are written: commas, items, ']'. */
        int restAfter(int count) {
            int missing = Math.max(0, minItems - count);
            return missing == 0 ? 1 : missing * (1 + items.minLength()) + 1;
        }

        /** The count a frame keeps: past both bounds only "at least min" matters, which keeps states few. */
        int tracked(int count) {
            return maxItems == Integer.MAX_VALUE ? Math.min(count, minItems) : count;
        }
    }

    /** An object with known properties, written in schema order; optional ones may be left out. */
    static final class Record implements Node {
        final String[] names;
        final byte[][] keys; // "name":
        final Node[] values;
        final boolean[] required;

        Record(List<String> names, List<Node> values, List<Boolean> required) {
            this.names = names.toArray(String[]::new);
            this.keys = names.stream().map(n -> (io.vertx.core.json.Json.encode(n) + ":").getBytes(StandardCharsets.UTF_8))
                    .toArray(byte[][]::new);
            this.values = values.toArray(Node[]::new);
            this.required = new boolean[required.size()];
            for (int i = 0; i < this.required.length; i++) this.required[i] = required.get(i);
        }

        @Override
        public Frame start() {
            return new ObjectFrame(this, 0, ObjectFrame.BEFORE, "");
        }

        @Override
        public int minLength() {
            return 1 + requiredFrom(0, false);
        }

        /** Bytes for the required properties from {@code next} on, each with its comma when one is due, and '}'. */
        int requiredFrom(int next, boolean commaFirst) {
            long sum = 1;
            boolean comma = commaFirst;
            for (int i = next; i < keys.length; i++) {
                if (!required[i]) continue;
                sum += (comma ? 1 : 0) + keys[i].length + values[i].minLength();
                comma = true;
            }
            return (int) Math.min(Integer.MAX_VALUE / 4, sum);
        }

        /** The last property that may come next: the first required one from {@code next}, else the last. */
        int lastCandidate(int next) {
            for (int i = next; i < keys.length; i++) if (required[i]) return i;
            return keys.length - 1;
        }

        boolean requiredLeft(int next) {
            for (int i = next; i < keys.length; i++) if (required[i]) return true;
            return false;
        }
    }

    /** Any object: string keys, {@code values} values ({@code json_object}). */
    static final class Mapping implements Node {
        final Text key = new Text(0, Integer.MAX_VALUE);
        Node values;

        @Override
        public Frame start() {
            return new MapFrame(this, MapFrame.BEFORE);
        }

        @Override
        public int minLength() {
            return 2;
        }
    }

    // ---- frames -------------------------------------------------------------------------------------------------

    sealed interface Frame permits LiteralFrame, TextFrame, NumberFrame, ArrayFrame, ObjectFrame, MapFrame, ConcatFrame {
        /** Adds the stacks that result from writing byte {@code b} inside this frame ({@code rest} is below it). */
        void consume(int b, Stack rest, List<Stack> out);

        /** Whether this value is whole (it may still go on, like a number). */
        boolean canEnd();

        /** Fewest bytes to make this value whole. */
        int minRest();
    }

    /** {@code next}: the part to write next (parts are never empty, so each byte belongs to one). */
    record ConcatFrame(Concat node, int next) implements Frame {
        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            if (next < node.parts.length) pushAndStep(node.parts[next], new Stack(new ConcatFrame(node, next + 1), rest), b, out);
        }

        @Override
        public boolean canEnd() {
            return next == node.parts.length;
        }

        @Override
        public int minRest() {
            return node.restFrom(next);
        }
    }

    /** {@code written}: the bytes matched so far, one char per byte. */
    record LiteralFrame(Literals node, String written) implements Frame {
        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            String next = written + (char) b;
            for (byte[] o : node.options) {
                if (startsWith(o, next)) {
                    out.add(new Stack(new LiteralFrame(node, next), rest));
                    return;
                }
            }
        }

        @Override
        public boolean canEnd() {
            for (byte[] o : node.options) if (o.length == written.length() && startsWith(o, written)) return true;
            return false;
        }

        @Override
        public int minRest() {
            int best = Integer.MAX_VALUE / 4;
            for (byte[] o : node.options) if (startsWith(o, written)) best = Math.min(best, o.length - written.length());
            return best;
        }

        private static boolean startsWith(byte[] option, String prefix) {
            if (prefix.length() > option.length) return false;
            for (int i = 0; i < prefix.length(); i++) if ((option[i] & 0xff) != prefix.charAt(i)) return false;
            return true;
        }
    }

    /** phase 0: before the opening quote, 1: inside ({@code length} chars, capped when no maxLength), 2: closed. */
    record TextFrame(Text node, int phase, int length) implements Frame {
        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            if (phase == 0) {
                if (b == '"') out.add(new Stack(new TextFrame(node, 1, 0), rest));
            } else if (phase == 1) {
                if (b == '"') {
                    if (length >= node.minLength) out.add(new Stack(new TextFrame(node, 2, 0), rest));
                } else if (b >= 0x20 && b < 0x7f && b != '\\' && length < node.maxLength) {
                    int next = length + 1;
                    out.add(new Stack(new TextFrame(node, 1, node.maxLength == Integer.MAX_VALUE ? Math.min(next, node.minLength) : next), rest));
                }
            }
        }

        @Override
        public boolean canEnd() {
            return phase == 2;
        }

        @Override
        public int minRest() {
            return switch (phase) {
                case 0 -> node.minLength + 2;
                case 1 -> Math.max(0, node.minLength - length) + 1;
                default -> 0;
            };
        }
    }

    record NumberFrame(Numeric node, String written) implements Frame {
        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            if (!(b == '-' || b == '.' || (b >= '0' && b <= '9'))) return;
            String next = written + (char) b;
            if (node.bounds.feasible(next)) out.add(new Stack(new NumberFrame(node, next), rest));
        }

        @Override
        public boolean canEnd() {
            return node.bounds.accepts(written);
        }

        @Override
        public int minRest() {
            return node.bounds.shortestCompletion(written);
        }
    }

    record ArrayFrame(Sequence node, int count, int phase) implements Frame {
        static final int BEFORE = 0, OPENED = 1, AFTER_ITEM = 2, AFTER_COMMA = 3, CLOSED = 4;

        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            switch (phase) {
                case BEFORE -> {
                    if (b == '[') out.add(new Stack(new ArrayFrame(node, 0, OPENED), rest));
                }
                case OPENED, AFTER_COMMA -> {
                    if (phase == OPENED && b == ']' && node.minItems == 0) out.add(new Stack(new ArrayFrame(node, 0, CLOSED), rest));
                    if (count < node.maxItems) {
                        pushAndStep(node.items, new Stack(new ArrayFrame(node, node.tracked(count + 1), AFTER_ITEM), rest), b, out);
                    }
                }
                case AFTER_ITEM -> {
                    if (b == ']' && count >= node.minItems) out.add(new Stack(new ArrayFrame(node, 0, CLOSED), rest));
                    if (b == ',' && count < node.maxItems) out.add(new Stack(new ArrayFrame(node, count, AFTER_COMMA), rest));
                }
                default -> {}
            }
        }

        @Override
        public boolean canEnd() {
            return phase == CLOSED;
        }

        @Override
        public int minRest() {
            return switch (phase) {
                case BEFORE -> node.minLength();
                case OPENED -> node.minItems == 0 ? 1 : node.items.minLength() + node.restAfter(1);
                case AFTER_ITEM -> node.restAfter(count);
                case AFTER_COMMA -> node.items.minLength() + node.restAfter(count + 1);
                default -> 0;
            };
        }
    }

    /** {@code next}: the first property not yet passed; {@code key}: the bytes of a key being written. */
    record ObjectFrame(Record node, int next, int phase, String key) implements Frame {
        static final int BEFORE = 0, OPENED = 1, AFTER_VALUE = 2, AFTER_COMMA = 3, CLOSED = 4;

        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            switch (phase) {
                case BEFORE -> {
                    if (b == '{') out.add(new Stack(new ObjectFrame(node, 0, OPENED, ""), rest));
                }
                case OPENED, AFTER_COMMA -> {
                    if (phase == OPENED && key.isEmpty() && b == '}' && !node.requiredLeft(next)) {
                        out.add(new Stack(new ObjectFrame(node, next, CLOSED, ""), rest));
                    }
                    String written = key + (char) b;
                    for (int i = next; i <= node.lastCandidate(next) && i < node.keys.length; i++) {
                        byte[] k = node.keys[i];
                        if (!LiteralFrame.startsWith(k, written)) continue;
                        if (k.length == written.length()) {
                            push(node.values[i], new Stack(new ObjectFrame(node, i + 1, AFTER_VALUE, ""), rest), out);
                        } else {
                            out.add(new Stack(new ObjectFrame(node, next, phase, written), rest));
                        }
                        return; // keys end in '":' and names differ, so no other key matches these bytes differently
                    }
                }
                case AFTER_VALUE -> {
                    if (b == '}' && !node.requiredLeft(next)) out.add(new Stack(new ObjectFrame(node, next, CLOSED, ""), rest));
                    if (b == ',' && next < node.keys.length) out.add(new Stack(new ObjectFrame(node, next, AFTER_COMMA, ""), rest));
                }
                default -> {}
            }
        }

        @Override
        public boolean canEnd() {
            return phase == CLOSED;
        }

        @Override
        public int minRest() {
            return switch (phase) {
                case BEFORE -> node.minLength();
                case AFTER_VALUE -> node.requiredFrom(next, true);
                case OPENED, AFTER_COMMA -> {
                    int best = phase == OPENED && key.isEmpty() && !node.requiredLeft(next) ? 1 : Integer.MAX_VALUE / 4;
                    for (int i = next; i <= node.lastCandidate(next) && i < node.keys.length; i++) {
                        if (!LiteralFrame.startsWith(node.keys[i], key)) continue;
                        best = Math.min(best, node.keys[i].length - key.length() + node.values[i].minLength() + node.requiredFrom(i + 1, true));
                    }
                    yield best;
                }
                default -> 0;
            };
        }
    }

    record MapFrame(Mapping node, int phase) implements Frame {
        static final int BEFORE = 0, OPENED = 1, AFTER_KEY = 2, AFTER_COLON = 3, AFTER_VALUE = 4, AFTER_COMMA = 5, CLOSED = 6;

        @Override
        public void consume(int b, Stack rest, List<Stack> out) {
            switch (phase) {
                case BEFORE -> {
                    if (b == '{') out.add(new Stack(new MapFrame(node, OPENED), rest));
                }
                case OPENED, AFTER_COMMA -> {
                    if (phase == OPENED && b == '}') out.add(new Stack(new MapFrame(node, CLOSED), rest));
                    pushAndStep(node.key, new Stack(new MapFrame(node, AFTER_KEY), rest), b, out);
                }
                case AFTER_KEY -> {
                    if (b == ':') out.add(new Stack(new MapFrame(node, AFTER_COLON), rest));
                }
                case AFTER_COLON -> pushAndStep(node.values, new Stack(new MapFrame(node, AFTER_VALUE), rest), b, out);
                case AFTER_VALUE -> {
                    if (b == '}') out.add(new Stack(new MapFrame(node, CLOSED), rest));
                    if (b == ',') out.add(new Stack(new MapFrame(node, AFTER_COMMA), rest));
                }
                default -> {}
            }
        }

        @Override
        public boolean canEnd() {
            return phase == CLOSED;
        }

        @Override
        public int minRest() {
            return switch (phase) {
                case BEFORE -> 2;
                case OPENED, AFTER_VALUE -> 1;
                case AFTER_KEY -> 1 + node.values.minLength() + 1;
                case AFTER_COLON -> node.values.minLength() + 1;
                case AFTER_COMMA -> 2 + 1 + node.values.minLength() + 1;
                default -> 0;
            };
        }
    }

    /** Used by {@link NumberBounds} for limits given as JSON numbers. */
    static BigDecimal decimal(Number n) {
        return new BigDecimal(n.toString());
    }
}
