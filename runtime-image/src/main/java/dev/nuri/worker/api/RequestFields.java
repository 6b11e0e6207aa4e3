package dev.nuri.worker.api;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** Typed access to a request body; a field of the wrong type becomes a 400 that names it. */
final class RequestFields {
    private final JsonObject body;

    RequestFields(JsonObject body) {
        this.body = body;
    }

    boolean has(String name) {
        return body.getValue(name) != null;
    }

    Object raw(String name) {
        return body.getValue(name);
    }

    Integer integer(String name, int min, int max) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw ApiException.badRequest(name, "'" + name + "' must be an integer, got " + describe(v));
        }
        return check(name, n.longValue(), min, max);
    }

    private static int check(String name, long value, int min, int max) {
        if (value < min || value > max) {
            throw ApiException.badRequest(name, "'" + name + "' must be between " + min + " and " + max + ", got " + value);
        }
        return (int) value;
    }

    Long longValue(String name) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw ApiException.badRequest(name, "'" + name + "' must be an integer, got " + describe(v));
        }
        return n.longValue();
    }

    Double number(String name, double min, double max) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Number n)) throw ApiException.badRequest(name, "'" + name + "' must be a number, got " + describe(v));
        double d = n.doubleValue();
        if (!(d >= min && d <= max)) {
            throw ApiException.badRequest(name, "'" + name + "' must be between " + min + " and " + max + ", got " + d);
        }
        return d;
    }

    Boolean bool(String name) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Boolean b)) throw ApiException.badRequest(name, "'" + name + "' must be a boolean, got " + describe(v));
        return b;
    }

    String string(String name) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof String s)) throw ApiException.badRequest(name, "'" + name + "' must be a string, got " + describe(v));
        return s;
    }

    JsonObject object(String name) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof JsonObject o)) throw ApiException.badRequest(name, "'" + name + "' must be an object, got " + describe(v));
        return o;
    }

    JsonArray array(String name) {
        Object v = body.getValue(name);
        if (v == null) return null;
        if (!(v instanceof JsonArray a)) throw ApiException.badRequest(name, "'" + name + "' must be an array, got " + describe(v));
        return a;
    }

    static String describe(Object v) {
        if (v instanceof String) return "a string";
        if (v instanceof Boolean) return "a boolean";
        if (v instanceof Number) return "the number " + v;
        if (v instanceof JsonArray) return "an array";
        if (v instanceof JsonObject) return "an object";
        return String.valueOf(v);
    }
}
