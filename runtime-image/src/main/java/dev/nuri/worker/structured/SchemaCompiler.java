package dev.nuri.worker.structured;

import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Compiles a JSON schema into a {@link JsonGrammar}. Supported: {@code type} (one or a list), {@code properties},
 * {@code required}, {@code additionalProperties} (no extra property is ever written), {@code items},
 * {@code minItems}/{@code maxItems}, {@code enum}, {@code const}, {@code anyOf}, {@code minimum}/{@code maximum}/
 * {@code exclusiveMinimum}/{@code exclusiveMaximum} (numbers), {@code minLength}/{@code maxLength}, {@code $ref} into
 * {@code $defs} or {@code definitions} (not recursive), and annotations. Any other keyword is refused, by name and
 * place, rather than ignored: an output that silently breaks a constraint is worse than a clear 400.
 */
public final class SchemaCompiler {
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema", "$id", "$comment",
            "deprecated", "readOnly", "writeOnly", "$defs", "definitions");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "items", "minItems",
            "maxItems", "enum", "const", "anyOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
            "$ref");

    /** A schema this server cannot enforce; the message names every offending keyword with its place. */
    public static final class UnsupportedSchemaException extends RuntimeException {
        UnsupportedSchemaException(String message) {
            super(message);
        }
    }

    private final JsonObject root;
    private final Set<String> problems = new TreeSet<>();
    private final Deque<String> resolving = new ArrayDeque<>();

    private SchemaCompiler(JsonObject root) {
        this.root = root;
    }

    public static JsonGrammar compile(JsonObject schema) {
        SchemaCompiler c = new SchemaCompiler(schema);
        JsonGrammar.Node node = c.node(schema, "#");
        if (!c.problems.isEmpty()) {
            throw new UnsupportedSchemaException("the schema uses what this server cannot enforce: " + String.join("; ", c.problems));
        }
        return new JsonGrammar(node);
    }

    /** Any JSON object ({@code response_format: json_object}). */
    public static JsonGrammar anyObject() {
        return new JsonGrammar(anyValue(true));
    }

    private static JsonGrammar.Node anyValue(boolean objectOnly) {
        JsonGrammar.Mapping object = new JsonGrammar.Mapping();
        JsonGrammar.Sequence array = new JsonGrammar.Sequence(null, 0, Integer.MAX_VALUE);
        JsonGrammar.AnyOf any = new JsonGrammar.AnyOf(List.of(object, array, new JsonGrammar.Text(0, Integer.MAX_VALUE),
                new JsonGrammar.Numeric(new NumberBounds(false, null, false, null, false)),
                new JsonGrammar.Literals(List.of("true", "false", "null"))));
        object.values = any;
        array.items = any;
        return objectOnly ? object : any;
    }

    private JsonGrammar.Node node(Object schemaValue, String at) {
        if (Boolean.TRUE.equals(schemaValue)) return anyValue(false);
        if (!(schemaValue instanceof JsonObject s)) {
            problems.add(at + ": a schema must be an object or true");
            return placeholder();
        }
        for (String key : s.fieldNames()) {
            if (!SUPPORTED.contains(key) && !ANNOTATIONS.contains(key)) problems.add(at + ": '" + key + "'");
        }
        if (s.containsKey("$ref")) return ref(s, at);
        if (s.containsKey("const")) return new JsonGrammar.Literals(List.of(Json.encode(s.getValue("const"))));
        if (s.containsKey("enum")) {
            if (!(s.getValue("enum") instanceof JsonArray values) || values.isEmpty()) {
                problems.add(at + "/enum: must be a non-empty array");
                return placeholder();
            }
            List<String> texts = new ArrayList<>();
            for (Object v : values) texts.add(Json.encode(v));
            return new JsonGrammar.Literals(texts);
        }
        if (s.containsKey("anyOf")) {
            if (!(s.getValue("anyOf") instanceof JsonArray alts) || alts.isEmpty()) {
                problems.add(at + "/anyOf: must be a non-empty array");
                return placeholder();
            }
            List<JsonGrammar.Node> nodes = new ArrayList<>();
            for (int i = 0; i < alts.size(); i++) nodes.add(node(alts.getValue(i), at + "/anyOf/" + i));
            return new JsonGrammar.AnyOf(nodes);
        }
        Object type = s.getValue("type");
        if (type == null) {
            if (s.containsKey("properties")) type = "object";
            else if (s.containsKey("items")) type = "array";
            else return anyValue(false);
        }
        if (type instanceof JsonArray types) {
            List<JsonGrammar.Node> nodes = new ArrayList<>();
            for (Object t : types) nodes.add(typed(s, String.valueOf(t), at));
            return nodes.size() == 1 ? nodes.get(0) : new JsonGrammar.AnyOf(nodes);
        }
        return typed(s, String.valueOf(type), at);
    }

    private JsonGrammar.Node typed(JsonObject s, String type, String at) {
        return switch (type) {
            case "object" -> object(s, at);
            case "array" -> {
                Object items = s.getValue("items");
                int min = count(s, "minItems", 0, at), max = count(s, "maxItems", Integer.MAX_VALUE, at);
                if (min > max) problems.add(at + ": minItems > maxItems");
                yield new JsonGrammar.Sequence(items == null ? anyValue(false) : node(items, at + "/items"), min, max);
            }
            case "string" -> {
                int min = count(s, "minLength", 0, at), max = count(s, "maxLength", Integer.MAX_VALUE, at);
                if (min > max) problems.add(at + ": minLength > maxLength");
                yield new JsonGrammar.Text(min, max);
            }
            case "integer", "number" -> number(s, type.equals("integer"), at);
            case "boolean" -> new JsonGrammar.Literals(List.of("true", "false"));
            case "null" -> new JsonGrammar.Literals(List.of("null"));
            default -> {
                problems.add(at + "/type: unknown type '" + type + "'");
                yield placeholder();
            }
        };
    }

    private JsonGrammar.Node object(JsonObject s, String at) {
        JsonObject properties = s.getValue("properties") instanceof JsonObject p ? p : new JsonObject();
        List<String> required = new ArrayList<>();
        if (s.getValue("required") instanceof JsonArray r) for (Object name : r) required.add(String.valueOf(name));
        for (String name : required) {
            if (!properties.containsKey(name)) problems.add(at + "/required: '" + name + "' is not among the properties");
        }
        List<String> names = new ArrayList<>(properties.fieldNames());
        List<JsonGrammar.Node> values = new ArrayList<>();
        List<Boolean> isRequired = new ArrayList<>();
        for (String name : names) {
            values.add(node(properties.getValue(name), at + "/properties/" + name));
            isRequired.add(required.contains(name));
        }
        return new JsonGrammar.Record(names, values, isRequired);
    }

    private JsonGrammar.Node number(JsonObject s, boolean integer, String at) {
        BigDecimal min = bound(s, "minimum", at), max = bound(s, "maximum", at);
        BigDecimal exclusiveMin = bound(s, "exclusiveMinimum", at), exclusiveMax = bound(s, "exclusiveMaximum", at);
        boolean minExclusive = false, maxExclusive = false;
        if (exclusiveMin != null && (min == null || exclusiveMin.compareTo(min) >= 0)) {
            min = exclusiveMin;
            minExclusive = true;
        }
        if (exclusiveMax != null && (max == null || exclusiveMax.compareTo(max) <= 0)) {
            max = exclusiveMax;
            maxExclusive = true;
        }
        JsonGrammar.Numeric node = new JsonGrammar.Numeric(new NumberBounds(integer, min, minExclusive, max, maxExclusive));
        if (node.minLength() >= NumberBounds.NONE) {
            problems.add(at + ": no " + (integer ? "integer" : "number") + " with at most " + JsonGrammar.INT_DIGITS
                    + " digits before the point lies within the bounds");
        }
        return node;
    }

    private BigDecimal bound(JsonObject s, String key, String at) {
        Object v = s.getValue(key);
        if (v == null) return null;
        if (!(v instanceof Number n)) {
            problems.add(at + "/" + key + ": must be a number");
            return null;
        }
        return JsonGrammar.decimal(n);
    }

    private int count(JsonObject s, String key, int dflt, String at) {
        Object v = s.getValue(key);
        if (v == null) return dflt;
        if (!(v instanceof Number n) || n.doubleValue() < 0 || n.doubleValue() != Math.rint(n.doubleValue()) || n.doubleValue() > 100_000) {
            problems.add(at + "/" + key + ": must be an integer from 0 to 100000");
            return dflt;
        }
        return n.intValue();
    }

    private JsonGrammar.Node ref(JsonObject s, String at) {
        String ref = String.valueOf(s.getValue("$ref"));
        String[] parts = ref.split("/");
        if (parts.length != 3 || !parts[0].equals("#") || !(parts[1].equals("$defs") || parts[1].equals("definitions"))) {
            problems.add(at + "/$ref: only '#/$defs/<name>' or '#/definitions/<name>' is supported, got '" + ref + "'");
            return placeholder();
        }
        JsonObject defs = root.getJsonObject(parts[1]);
        Object target = defs == null ? null : defs.getValue(parts[2]);
        if (target == null) {
            problems.add(at + "/$ref: '" + ref + "' does not exist");
            return placeholder();
        }
        if (resolving.contains(ref)) {
            problems.add(at + "/$ref: '" + ref + "' is recursive");
            return placeholder();
        }
        resolving.push(ref);
        try {
            return node(target, ref);
        } finally {
            resolving.pop();
        }
    }

    /** Stands in for a part already reported as a problem, so compiling goes on and names every problem at once. */
    private static JsonGrammar.Node placeholder() {
        return new JsonGrammar.Literals(List.of("null"));
    }
}
