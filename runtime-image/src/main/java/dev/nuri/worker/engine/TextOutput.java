package dev.nuri.worker.engine;

import dev.nuri.worker.tokenizer.IncrementalText;
import dev.nuri.worker.tokenizer.ModelTokenizer;

import java.util.List;

/**
 * Text of one choice as it is generated: detokenizes incrementally and applies stop strings. Text that might be
 * the start of a stop string is held back until it is clear it is not, so a stop string never reaches the client.
 */
final class TextOutput {
    private final IncrementalText text;
    private final List<String> stops;
    private final int holdBack;
    private final StringBuilder held = new StringBuilder();

    TextOutput(ModelTokenizer tokenizer, SamplingParams params) {
        this.text = new IncrementalText(tokenizer, params.skipSpecialTokens());
        this.stops = params.stop();
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** Result of adding one token: the text to emit, and whether a stop string ended the choice. */
    record Step(String text, boolean stopped) {}

    Step add(int token, boolean last) {
        held.append(text.next(token));
        if (last) held.append(text.flush());
        int at = -1;
        for (String stop : stops) {
            int i = held.indexOf(stop);
            if (i >= 0 && (at < 0 || i < at)) at = i;
        }
        if (at >= 0) {
            String out = held.substring(0, at);
            held.setLength(0);
            return new Step(out, true);
        }
        int emit = last ? held.length() : Math.max(0, held.length() - holdBack);
        // never split a surrogate pair between two chunks
        if (emit > 0 && emit < held.length() && Character.isHighSurrogate(held.charAt(emit - 1))) emit--;
        String out = held.substring(0, emit);
        held.delete(0, emit);
        return new Step(out, false);
    }
}
