package dev.nuri.worker.batch;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A batch input file: OpenAI's JSONL, one request a line, {@code {"custom_id", "method": "POST", "url", "body"}}.
 * Blank lines are skipped. {@link #check} reads the whole file before anything runs, so a bad file is refused whole,
 * naming its first bad line, instead of failing half-way.
 */
public final class BatchInput {
    public static final List<String> ENDPOINTS = List.of("/v1/completions", "/v1/chat/completions");
    static final int MAX_CUSTOM_ID_CHARS = 512;

    private BatchInput() {}

    /** One request of the file; {@code line} counts from 1 as an editor does. */
    public record Request(int line, String customId, String url, JsonObject body) {}

    /** A line that is not a valid request; {@code param} names the field at fault, as OpenAI's error objects do. */
    public static final class BadLine extends Exception {
        private final int line;
        private final String param;

        BadLine(int line, String param, String message) {
            super("line " + line + ": " + message);
            this.line = line;
            this.param = param;
        }

        public int line() {
            return line;
        }

        public String param() {
            return param;
        }
    }

    /**
     * Checks every line and returns how many requests the file holds.
     *
     * @param endpoint every line's url must be this; null: any of {@link #ENDPOINTS} (a file uploaded before its batch)
     */
    public static int check(Path file, String endpoint) throws IOException, BadLine {
        Set<String> ids = new HashSet<>();
        int[] count = {0};
        try {
            forEach(file, endpoint, r -> {
                if (!ids.add(r.customId())) throw new Bad(new BadLine(r.line(), "custom_id", "the custom_id '" + r.customId()
                        + "' is used by an earlier line; each request needs its own"));
                count[0]++;
            });
        } catch (Bad b) {
            throw b.line;
        }
        if (count[0] == 0) throw new BadLine(1, null, "the file holds no requests; send one JSON object a line");
        return count[0];
    }

    /** Reads the requests in file order (the file is assumed checked; a bad line still throws). */
    public static void forEach(Path file, String endpoint, Consumer<Request> each) throws IOException, BadLine {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        int n = 0;
        try (BufferedReader in = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file), decoder))) {
            for (String text; (text = readLine(in, n + 1)) != null; ) {
                n++;
                if (text.isBlank()) continue;
                try {
                    each.accept(parse(n, text, endpoint));
                } catch (Bad b) {
                    throw b.line;
                }
            }
        }
    }

    private static String readLine(BufferedReader in, int line) throws IOException, BadLine {
        try {
            return in.readLine();
        } catch (CharacterCodingException e) {
            throw new BadLine(line, null, "the file is not valid UTF-8");
        }
    }

    static Request parse(int line, String text, String endpoint) {
        Object value;
        try {
            value = Json.decodeValue(text);
        } catch (DecodeException e) {
            throw new Bad(new BadLine(line, null, "not valid JSON: " + e.getMessage().lines().findFirst().orElse("")));
        }
        if (!(value instanceof JsonObject o)) throw new Bad(new BadLine(line, null, "each line must be a JSON object"));
        if (!(o.getValue("custom_id") instanceof String id) || id.isEmpty() || id.length() > MAX_CUSTOM_ID_CHARS) {
            throw new Bad(new BadLine(line, "custom_id", "'custom_id' must be a non-empty string of at most "
                    + MAX_CUSTOM_ID_CHARS + " characters"));
        }
        if (!"POST".equals(o.getValue("method"))) throw new Bad(new BadLine(line, "method", "'method' must be \"POST\""));
        Object url = o.getValue("url");
        if (!(url instanceof String u) || !ENDPOINTS.contains(u)) {
            throw new Bad(new BadLine(line, "url", "'url' must be one of " + ENDPOINTS + ", got " + Json.encode(url)));
        }
        if (endpoint != null && !endpoint.equals(u)) {
            throw new Bad(new BadLine(line, "url", "'url' is " + u + " but the batch's endpoint is " + endpoint
                    + "; a batch sends every request to one endpoint"));
        }
        if (!(o.getValue("body") instanceof JsonObject body)) throw new Bad(new BadLine(line, "body", "'body' must be a JSON object"));
        if (Boolean.TRUE.equals(body.getValue("stream"))) {
            throw new Bad(new BadLine(line, "body.stream", "'stream': true is not supported in a batch; leave it out"));
        }
        return new Request(line, id, u, body);
    }

    /** Carries a BadLine out of a Consumer. */
    private static final class Bad extends RuntimeException {
        final BadLine line;

        Bad(BadLine line) {
            super(line.getMessage(), null, false, false);
            this.line = line;
        }
    }

    /** The custom_ids of the given lines, for the tests and the runner's resume. */
    static Set<String> customIds(Path file) throws IOException, BadLine {
        Set<String> ids = new HashSet<>();
        forEach(file, null, r -> ids.add(r.customId()));
        return ids;
    }
}
