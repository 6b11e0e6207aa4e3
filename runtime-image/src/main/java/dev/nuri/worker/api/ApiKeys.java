package dev.nuri.worker.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The API keys a shard accepts, each with its own request-rate and token-rate limits: {@code NURI_API_KEY} (no
 * limits) and the keys file {@code NURI_API_KEYS_FILE} (a mounted Secret, re-read when it changes). A line of the
 * file is {@code <name> <key> [requests-per-minute] [tokens-per-minute]}, {@code -} or nothing for no limit,
 * {@code #} for a comment. Only SHA-256 digests of keys are kept; key names may be logged, keys never.
 */
final class ApiKeys {
    private static final Logger LOG = Logger.getLogger(ApiKeys.class.getName());

    /** One key: its name (for logs and limits) and its limits, 0 for none. */
    record Key(String name, byte[] digest, long requestsPerMinute, long tokensPerMinute) {}

    private final Key single;
    private final Path file;
    private volatile List<Key> fromFile = List.of();
    private volatile FileTime loaded;
    private volatile long checkedNanos;
    private final Map<String, Limits> limits = new ConcurrentHashMap<>();

    ApiKeys(String singleKey, Path file) {
        this.single = singleKey == null ? null : new Key("default", sha256(singleKey), 0, 0);
        this.file = file;
        if (file != null) reload(); // a missing or malformed file stops the shard at start
    }

    boolean enabled() {
        return single != null || file != null;
    }

    /** The key presented, or null if it is none of them; every digest is compared, in constant time each. */
    Key find(String presented) {
        if (file != null) reloadIfChanged();
        byte[] digest = sha256(presented);
        Key found = null;
        if (single != null && MessageDigest.isEqual(digest, single.digest())) found = single;
        for (Key k : fromFile) if (MessageDigest.isEqual(digest, k.digest())) found = k;
        return found;
    }

    /** Takes one request from the key's request budget; 429 with Retry-After when it is spent. */
    void admitRequest(Key key) {
        if (key.requestsPerMinute() > 0) limits(key).requests.take(1, "requests", key);
    }

    /** Takes what a request may use (prompt tokens plus max_tokens for every choice, as OpenAI counts) from the key's token budget. */
    void admitTokens(Key key, long tokens) {
        if (key.tokensPerMinute() > 0) limits(key).tokens.take(tokens, "tokens", key);
    }

    private Limits limits(Key key) {
        // a changed limit in the file starts a fresh budget
        return limits.compute(key.name(), (n, l) -> l != null && l.key.requestsPerMinute() == key.requestsPerMinute()
                && l.key.tokensPerMinute() == key.tokensPerMinute() ? l : new Limits(key));
    }

    private static final class Limits {
        final Key key;
        final Bucket requests;
        final Bucket tokens;

        Limits(Key key) {
            this.key = key;
            this.requests = new Bucket(key.requestsPerMinute());
            this.tokens = new Bucket(key.tokensPerMinute());
        }
    }

    /** A token bucket holding a minute's worth, refilled continuously. */
    static final class Bucket {
        private final double perMinute;
        private double available;
        private long last = System.nanoTime();

        Bucket(long perMinute) {
            this.perMinute = perMinute;
            this.available = perMinute;
        }

        synchronized void take(long amount, String what, Key key) {
            long now = System.nanoTime();
            available = Math.min(perMinute, available + (now - last) / 60e9 * perMinute);
            last = now;
            if (amount > perMinute) {
                throw new ApiException(429, "rate_limit_error", null, "rate_limit_exceeded", "this request needs " + amount
                        + " " + what + ", more than the " + (long) perMinute + " per minute allowed for API key '"
                        + key.name() + "'; lower max_tokens or n", 60);
            }
            if (available < amount) {
                int retryAfter = (int) Math.ceil((amount - available) / perMinute * 60);
                throw new ApiException(429, "rate_limit_error", null, "rate_limit_exceeded", "rate limit of "
                        + (long) perMinute + " " + what + " per minute reached for API key '" + key.name()
                        + "'; retry after " + Math.max(1, retryAfter) + " s", Math.max(1, retryAfter));
            }
            available -= amount;
        }
    }

    private void reloadIfChanged() {
        long now = System.nanoTime();
        if (now - checkedNanos < 1_000_000_000L) return; // a mounted Secret changes within a minute; a second is plenty
        checkedNanos = now;
        try {
            if (!Files.getLastModifiedTime(file).equals(loaded)) reload();
        } catch (IOException | RuntimeException e) {
            // keep the keys that were good; a half-written update is read again on the next check
            LOG.warning("API keys file " + file + " not reloaded: " + e.getMessage());
        }
    }

    private synchronized void reload() {
        try {
            FileTime time = Files.getLastModifiedTime(file);
            fromFile = parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
            loaded = time;
            LOG.info("API keys file " + file + ": " + fromFile.size() + " keys");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the API keys file " + file + ": " + e.getMessage(), e);
        }
    }

    static List<Key> parse(String text, String where) {
        List<Key> keys = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\\s+");
            if (f.length < 2 || f.length > 4) {
                // the line may hold a key: say where, never what
                throw new IllegalArgumentException(where + " line " + (i + 1) + ": expected '<name> <key> [requests/min] [tokens/min]'");
            }
            keys.add(new Key(f[0], sha256(f[1]), limit(f, 2, where, i), limit(f, 3, where, i)));
        }
        return List.copyOf(keys);
    }

    private static long limit(String[] f, int index, String where, int line) {
        if (f.length <= index || f[index].equals("-")) return 0;
        try {
            long v = Long.parseLong(f[index]);
            if (v > 0) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(where + " line " + (line + 1) + ": a limit must be a positive integer or '-', got '" + f[index] + "'");
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
