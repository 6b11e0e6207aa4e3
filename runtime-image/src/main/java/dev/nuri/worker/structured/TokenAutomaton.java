package dev.nuri.worker.structured;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link JsonGrammar} lifted to a model's tokens: for each matcher state, the tokens that may come next and how far
 * from a whole value each leaves the text. States are built on first visit and cached for every later request with
 * the same schema (a schema's strings and numbers have few distinct states; objects and arrays follow the schema).
 */
public final class TokenAutomaton {
    /** Bounds the cache: a pathological schema (long enum prefixes, deep json_object nesting) cannot grow it forever. */
    private static final int MAX_STATES = 50_000;
    final JsonGrammar grammar;
    final Vocabulary vocabulary;
    private final ConcurrentHashMap<JsonGrammar.State, Mask> masks = new ConcurrentHashMap<>();

    /**
     * @param tokens the ids allowed next, in vocabulary order
     * @param distances per allowed token, the fewest bytes still needed after it
     * @param complete whether the text so far is whole (end-of-sequence allowed)
     */
    record Mask(int[] tokens, int[] distances, boolean complete) {}

    TokenAutomaton(JsonGrammar grammar, Vocabulary vocabulary) {
        this.grammar = grammar;
        this.vocabulary = vocabulary;
    }

    JsonGrammar.State start() {
        return grammar.start();
    }

    /** Fewest bytes of a whole value: a lower bound on max_tokens (every byte is a token of a byte-level vocabulary). */
    public int shortestOutput() {
        return grammar.distance(grammar.start());
    }

    int cachedStates() {
        return masks.size();
    }

    Mask mask(JsonGrammar.State state) {
        Mask m = masks.get(state);
        if (m != null) return m;
        if (masks.size() >= MAX_STATES) masks.clear();
        m = build(state);
        masks.put(state, m);
        return m;
    }

    JsonGrammar.State next(JsonGrammar.State state, int token) {
        byte[] b = vocabulary.bytes(token);
        return b == null ? null : grammar.advance(state, b);
    }

    private Mask build(JsonGrammar.State state) {
        Vocabulary v = vocabulary;
        JsonGrammar.State[] at = new JsonGrammar.State[v.longest + 1];
        at[0] = state;
        int valid = 0; // at[0..valid] hold the states along the previous token's bytes
        int[] tokens = new int[v.ids.length];
        int[] distances = new int[v.ids.length];
        int n = 0;
        for (int i = 0; i < v.ids.length; i++) {
            byte[] b = v.bytes[i];
            int c = Math.min(v.shared[i], b.length);
            if (c > valid) continue; // shares a prefix that already failed
            boolean alive = true;
            for (int d = c; d < b.length; d++) {
                at[d + 1] = grammar.step(at[d], b[d] & 0xff);
                if (at[d + 1] == null) {
                    valid = d;
                    alive = false;
                    break;
                }
            }
            if (!alive) continue;
            valid = b.length;
            tokens[n] = v.ids[i];
            distances[n++] = grammar.distance(at[b.length]);
        }
        return new Mask(java.util.Arrays.copyOf(tokens, n), java.util.Arrays.copyOf(distances, n), grammar.complete(state));
    }
}
