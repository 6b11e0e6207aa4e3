package dev.nuri.worker.shard;

import dev.nuri.worker.api.HttpSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One shard's configuration: each setting comes from a flag {@code --kebab-name value} or else from the environment
 * variable {@code NURI_UPPER_SNAKE_NAME} (what the operator sets), else a default. The list is in
 * runtime-image/PLACEMENT.md.
 */
public final class ShardSettings {
    private final Map<String, String> flags;
    private final Map<String, String> env;

    private ShardSettings(Map<String, String> flags, Map<String, String> env) {
        this.flags = flags;
        this.env = env;
    }

    public static ShardSettings parse(String[] args, Map<String, String> env) {
        Map<String, String> flags = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'; flags look like --name value");
            String name = a.substring(2);
            int eq = name.indexOf('=');
            if (eq >= 0) {
                flags.put(name.substring(0, eq), name.substring(eq + 1));
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                flags.put(name, args[++i]);
            } else {
                flags.put(name, "true");
            }
        }
        return new ShardSettings(flags, env);
    }

    public static String envName(String flag) {
        return "NURI_" + flag.replace('-', '_').toUpperCase(Locale.ROOT);
    }

    public String string(String name, String dflt) {
        String v = flags.get(name);
        if (v == null) v = env.get(envName(name));
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    public int integer(String name, int dflt) {
        String v = string(name, null);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " / " + envName(name) + " must be an integer, got '" + v + "'");
        }
    }

    public boolean bool(String name) {
        return Boolean.parseBoolean(string(name, "false"));
    }

    public int groupIndex() { return integer("group-index", 0); }

    public int shardIndex() { return integer("shard-index", 0); }

    public int shards() { return integer("shards", 1); }

    /** Every shard of the group, in shard order, as host:port of its peer port (this shard's own entry is skipped). */
    public List<String> peers() {
        String v = string("peers", "");
        List<String> out = new ArrayList<>();
        for (String p : v.split(",")) if (!p.isBlank()) out.add(p.trim());
        return out;
    }

    public String model() { return string("model", "builtin:tiny-axk1"); }

    public Path placementFile() {
        String v = string("placement-file", null);
        return v == null ? null : Path.of(v);
    }

    public String bindHost() { return string("bind-host", "127.0.0.1"); }

    public int port() { return integer("port", 8000); }

    public int peerPort() { return integer("peer-port", 9100); }

    /** The key clients must send as {@code Authorization: Bearer <key>}; null when the API is open. Never log it. */
    public String apiKey() { return string("api-key", null); }

    /** Cap on prompt + completion tokens; 0 means the model's max_position_embeddings. */
    public int contextLength() { return integer("context-length", 0); }

    /** The HTTP port's limits (docs/security.md); the defaults live in {@link HttpSettings}. */
    public HttpSettings http() {
        String template = string("chat-template", null);
        List<String> origins = new ArrayList<>();
        for (String o : string("cors-allowed-origins", "").split(",")) if (!o.isBlank()) origins.add(o.trim());
        return new HttpSettings(
                positive("max-body-bytes", HttpSettings.DEFAULT_MAX_BODY_BYTES),
                Duration.ofSeconds(positive("http-request-read-timeout-seconds", HttpSettings.DEFAULT_REQUEST_READ_TIMEOUT_SECONDS)),
                Duration.ofSeconds(positive("http-idle-timeout-seconds", HttpSettings.DEFAULT_IDLE_TIMEOUT_SECONDS)),
                (int) positive("http-max-connections", HttpSettings.DEFAULT_MAX_CONNECTIONS),
                positive("http-stream-buffer-bytes", HttpSettings.DEFAULT_STREAM_BUFFER_BYTES),
                template == null ? null : Path.of(template),
                Duration.ofMillis(positive("chat-template-timeout-ms", HttpSettings.DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS)),
                List.copyOf(origins),
                bool("http-half-close"));
    }

    private long positive(String name, long dflt) {
        String v = string(name, null);
        if (v == null) return dflt;
        try {
            long n = Long.parseLong(v);
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("--" + name + " / " + envName(name) + " must be a whole number of at least 1, got '" + v + "'");
    }

    /** Null: the checkpoint's own types. */
    public Quantization quantization() { return Quantization.parse(string("quantization", null)); }

    public void validate() {
        if (string("context-length", null) != null && contextLength() < 1) {
            throw new IllegalArgumentException("--context-length / NURI_CONTEXT_LENGTH must be at least 1, got " + contextLength());
        }
        quantization();
        http();
        int shards = shards();
        if (shards < 1) throw new IllegalArgumentException("--shards must be at least 1");
        if (shardIndex() < 0 || shardIndex() >= shards) {
            throw new IllegalArgumentException("--shard-index " + shardIndex() + " is outside 0.." + (shards - 1));
        }
        if (shards > 1 && peers().size() != shards) {
            throw new IllegalArgumentException("--peers / NURI_PEERS must list all " + shards
                    + " shards of the group as host:port in shard order (this shard's own entry included), got " + peers());
        }
    }
}
