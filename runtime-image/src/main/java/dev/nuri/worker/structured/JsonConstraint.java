package dev.nuri.worker.structured;

import dev.nuri.worker.engine.LogitsConstraint;

import java.util.Arrays;

/**
 * One sequence's walk through a {@link TokenAutomaton}. Besides what the grammar allows, a token is allowed only if
 * the value can still be finished in the tokens left after it (one byte per token at worst), so that an output cut by
 * {@code max_tokens} is still whole; once the value is whole, end-of-sequence is allowed, and alone when nothing can
 * follow.
 */
final class JsonConstraint implements LogitsConstraint {
    private final TokenAutomaton automaton;
    private JsonGrammar.State state;

    JsonConstraint(TokenAutomaton automaton) {
        this.automaton = automaton;
        this.state = automaton.start();
    }

    @Override
    public void mask(float[] logits, int remainingTokens) {
        if (state == null) { // the value is whole and nothing may follow
            keepOnly(logits, new int[0], new int[0], Integer.MAX_VALUE, true);
            return;
        }
        TokenAutomaton.Mask m = automaton.mask(state);
        int budget = remainingTokens - 1;
        boolean any = false;
        for (int i = 0; i < m.tokens().length && !any; i++) any = m.distances()[i] <= budget && m.tokens()[i] < logits.length;
        if (!any && !m.complete()) { // cannot happen with a byte-level vocabulary; keep to the shortest way out
            budget = Arrays.stream(m.distances()).min().orElse(Integer.MAX_VALUE);
        }
        keepOnly(logits, m.tokens(), m.distances(), budget, m.complete());
    }

    private void keepOnly(float[] logits, int[] tokens, int[] distances, int budget, boolean eos) {
        float[] kept = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) kept[i] = tokens[i] < logits.length ? logits[tokens[i]] : Float.NEGATIVE_INFINITY;
        int eosId = automaton.vocabulary.eos;
        float eosLogit = eosId >= 0 && eosId < logits.length ? logits[eosId] : Float.NEGATIVE_INFINITY;
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < tokens.length; i++) if (distances[i] <= budget && tokens[i] < logits.length) logits[tokens[i]] = kept[i];
        // end-of-sequence as likely as the model makes it, but possible even if the model gives it -inf
        if (eos && eosId >= 0 && eosId < logits.length) logits[eosId] = Float.isFinite(eosLogit) ? eosLogit : -1e9f;
    }

    @Override
    public void accept(int token) {
        if (state == null) return;
        JsonGrammar.State next = automaton.next(state, token);
        // end-of-sequence (or nothing allowed) leaves no state: any further token is masked to end-of-sequence only
        state = next;
    }
}
