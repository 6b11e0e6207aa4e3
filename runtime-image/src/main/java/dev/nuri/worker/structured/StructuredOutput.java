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
        this(new Vocabulary(tokenizer));
    }

    public StructuredOutput(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
        this.anyObject = new TokenAutomaton(SchemaCompiler.anyObject(), vocabulary);
    }

    /** {@code response_format: {"type": "json_object"}}: any JSON object. */
    public TokenAutomaton jsonObject() {
        return anyObject;
    }

    /** @throws SchemaCompiler.UnsupportedSchemaException naming what the schema uses that cannot be enforced */
    public TokenAutomaton jsonSchema(JsonObject schema) {
        return grammar("schema:" + schema.encode(), () -> SchemaCompiler.compile(schema));
    }

    /** A grammar built by the caller (a forced tool call), cached under {@code key} like a schema. */
    public TokenAutomaton grammar(String key, java.util.function.Supplier<JsonGrammar> build) {
        synchronized (bySchema) {
            TokenAutomaton cached = bySchema.get(key);
            if (cached != null) return cached;
        }
        TokenAutomaton compiled = new TokenAutomaton(build.get(), vocabulary);
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
