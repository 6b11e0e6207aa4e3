package dev.nuri.worker.structured;

import dev.nuri.worker.engine.LogitsConstraint;
import dev.nuri.worker.tokenizer.ModelTokenizer;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Structured output for one served model: compiles {@code response_format} schemas into {@link TokenAutomaton}s over
 * the model's vocabulary and keeps the most recently used ones, keyed by the schema's JSON text, so that
 * repeated requests with one schema reuse its compiled states.
 */
public final class StructuredOutput {
    private static final int CACHED_SCHEMAS = 64;
    private final Vocabulary vocabulary;
    private final TokenAutomaton anyObject;
    private final Map<String, TokenAutomaton> bySchema = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, TokenAutomaton> eldest) {
            return size() > CACHED_SCHEMAS;
        }
    };

    public StructuredOutput(ModelTokenizer tokenizer) {
        this.vocabulary = new Vocabulary(tokenizer);
        this.anyObject = new TokenAutomaton(SchemaCompiler.anyObject(), vocabulary);
    }

    /** {@code response_format: {"type": "json_object"}}: any JSON object. */
    public TokenAutomaton jsonObject() {
        return anyObject;
    }

    /** @throws SchemaCompiler.UnsupportedSchemaException naming what the schema uses that cannot be enforced */
    public TokenAutomaton jsonSchema(JsonObject schema) {
        String key = schema.encode();
        synchronized (bySchema) {
            TokenAutomaton cached = bySchema.get(key);
            if (cached != null) return cached;
        }
        TokenAutomaton compiled = new TokenAutomaton(SchemaCompiler.compile(schema), vocabulary);
        synchronized (bySchema) {
            bySchema.putIfAbsent(key, compiled);
            return bySchema.get(key);
        }
    }

    /** What a request carries to the engine: each of its sequences walks the automaton on its own. */
    public static LogitsConstraint.Factory constraint(TokenAutomaton automaton) {
        return () -> new JsonConstraint(automaton);
    }
}
