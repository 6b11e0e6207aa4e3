package dev.nuri.worker.api;

import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSetting.Defaults;
import dev.nuri.contract.ShardSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The HTTP port's defences against slow, idle, greedy and cross-origin clients (docs/security.md explains each).
 *
 * @param maxBodyBytes larger request bodies get 413
 * @param requestReadTimeout a request must arrive whole (headers and body) within this of its first byte
 * @param idleTimeout a connection with no request under way is closed after this
 * @param maxConnections connections past this many are closed as they open
 * @param streamBufferBytes a streamed response whose client stops reading is aborted once this much waits unsent
 * @param chatTemplate a Jinja file that replaces the tokenizer's chat template (vLLM's --chat-template), or null
 * @param chatTemplateTimeout a chat-template render that has used this much CPU time fails with 400
 * @param corsOrigins origins allowed to call from a browser; empty: no CORS headers (the default)
 * @param halfClose a client's FIN after a whole request means "done sending", and it still gets its answer; off (the
 *                  default), a FIN means the client left and its request is cancelled, as nginx treats it: the two
 *                  look the same on the wire, and leaving is far more common
 * @param apiKeysFile the keys file with per-key limits ({@link ApiKeys}), or null
 */
public record HttpSettings(long maxBodyBytes, Duration requestReadTimeout, Duration idleTimeout, int maxConnections,
                           long streamBufferBytes, Path chatTemplate, Duration chatTemplateTimeout, List<String> corsOrigins,
                           boolean halfClose, Path apiKeysFile) {
    public static final long DEFAULT_MAX_BODY_BYTES = Defaults.MAX_BODY_BYTES;
    public static final int DEFAULT_REQUEST_READ_TIMEOUT_SECONDS = Defaults.HTTP_REQUEST_READ_TIMEOUT_SECONDS;
    public static final int DEFAULT_IDLE_TIMEOUT_SECONDS = Defaults.HTTP_IDLE_TIMEOUT_SECONDS;
    public static final int DEFAULT_MAX_CONNECTIONS = Defaults.HTTP_MAX_CONNECTIONS;
    public static final long DEFAULT_STREAM_BUFFER_BYTES = Defaults.HTTP_STREAM_BUFFER_BYTES;
    public static final int DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS = Defaults.CHAT_TEMPLATE_TIMEOUT_MS;

    /** From the shard's settings: max body bytes, the HTTP timeouts and limits, chat template, CORS origins. */
    public static HttpSettings from(ShardSettings settings) {
        String template = settings.string(ShardSetting.CHAT_TEMPLATE);
        String keys = settings.string(ShardSetting.API_KEYS_FILE);
        return new HttpSettings(
                settings.positive(ShardSetting.MAX_BODY_BYTES),
                Duration.ofSeconds(settings.positive(ShardSetting.HTTP_REQUEST_READ_TIMEOUT_SECONDS)),
                Duration.ofSeconds(settings.positive(ShardSetting.HTTP_IDLE_TIMEOUT_SECONDS)),
                (int) settings.positive(ShardSetting.HTTP_MAX_CONNECTIONS),
                settings.positive(ShardSetting.HTTP_STREAM_BUFFER_BYTES),
                template == null ? null : Path.of(template),
                Duration.ofMillis(settings.positive(ShardSetting.CHAT_TEMPLATE_TIMEOUT_MS)),
                settings.list(ShardSetting.CORS_ALLOWED_ORIGINS),
                settings.bool(ShardSetting.HTTP_HALF_CLOSE),
                keys == null ? null : Path.of(keys));
    }

    public static HttpSettings defaults() {
        return new HttpSettings(DEFAULT_MAX_BODY_BYTES, Duration.ofSeconds(DEFAULT_REQUEST_READ_TIMEOUT_SECONDS),
                Duration.ofSeconds(DEFAULT_IDLE_TIMEOUT_SECONDS), DEFAULT_MAX_CONNECTIONS, DEFAULT_STREAM_BUFFER_BYTES, null,
                Duration.ofMillis(DEFAULT_CHAT_TEMPLATE_TIMEOUT_MS), List.of(), false, null);
    }
}
