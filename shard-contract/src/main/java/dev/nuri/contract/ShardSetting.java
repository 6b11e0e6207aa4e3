package dev.nuri.contract;

import java.util.Locale;

/**
 * Every setting of a shard process, defined once: the operator writes them into a pod's environment, the worker reads
 * them (a flag {@code --kebab-name value} overrides the variable). The settings table of runtime-image/PLACEMENT.md is
 * generated from this list ({@code SettingsTableTest}).
 */
public enum ShardSetting {
    GROUP_INDEX("NURI_GROUP_INDEX", "0",
            "index of this expert-parallel group (StatefulSet `<name>-g<i>`); peers of other groups are refused"),
    SHARD_INDEX("NURI_SHARD_INDEX", "0", "this shard within its group (pod ordinal)"),
    SHARDS("NURI_SHARDS", "1", "shards in the group (expert-parallel degree)"),
    PEERS("NURI_PEERS", null,
            "all shards of the group as `host:peerPort`, comma separated, **in shard order, this shard included** (the same "
                    + "string for every pod, e.g. `m-g0-0.m-shards.ns.svc:9000,m-g0-1.m-shards.ns.svc:9000`)"),
    PLACEMENT_FILE("NURI_PLACEMENT_FILE", null,
            "placement JSON (above); without it the shard uses the `static` layout (contiguous blocks of experts)"),
    MODEL("NURI_MODEL", Defaults.MODEL,
            "`builtin:<name>` or a Hugging Face model directory (`config.json`, safetensors, `tokenizer.json`, "
                    + "`tokenizer_config.json`)"),
    TOKENIZER("NURI_TOKENIZER", null, "directory with `tokenizer.json` + `tokenizer_config.json`, if not the model's"),
    SERVED_MODEL_NAME("NURI_SERVED_MODEL_NAME", null, "the `model` clients send; default: the builtin name or the model directory's name"),
    PORT("NURI_PORT", "" + Defaults.PORT, "HTTP (OpenAI API, `/health/*`, `/metrics`)"),
    PEER_PORT("NURI_PEER_PORT", "" + Defaults.PEER_PORT, "expert-parallel TCP port (the CRD's `spec.serving.peerPort` has the same default)"),
    PEER_KEY("NURI_PEER_KEY", null,
            "the group's peer key: 64 hex characters (32 random bytes), the same on every shard of the group. Each peer "
                    + "connection starts with an HMAC-SHA256 challenge-response on it, both ways (docs/security.md). "
                    + "Required with more than one shard; the operator sets it from the `<name>-peer-key` Secret, `serve` "
                    + "and the tests make one per group. Never logged"),
    BIND_HOST("NURI_BIND_HOST", "127.0.0.1", "address both servers bind; pods set `0.0.0.0`"),
    WIRE_DTYPE("NURI_WIRE_DTYPE", "bf16", "`bf16` or `f32` for hidden vectors and partial sums"),
    TWO_BATCH_OVERLAP_MIN_TOKENS("NURI_TWO_BATCH_OVERLAP_MIN_TOKENS", "0",
            "with more than one shard, an engine step of at least this many tokens runs as two micro-batches, each one's "
                    + "expert dispatch/combine under way while the other computes its attention and shared expert "
                    + "(two-batch overlap, docs/benchmarks.md); `0`: off"),
    PEER_TIMEOUT_SECONDS("NURI_PEER_TIMEOUT_SECONDS", "30", "a peer that does not answer a dispatch in time counts as lost"),
    EXPERT_LOAD_WINDOW_SECONDS("NURI_EXPERT_LOAD_WINDOW_SECONDS", "60",
            "the sliding window of `/v1/internal/expert-load`: tokens this shard routed to each (layer, expert) in the "
                    + "last this many seconds (docs/placement.md)"),
    KV_CACHE_TOKENS("NURI_KV_CACHE_TOKENS", null,
            "KV-cache size in tokens (rounded down to whole blocks). A sequence takes blocks as its tokens are computed; "
                    + "when none is free the newest running sequence is preempted and recomputed later "
                    + "(`nuri_num_preemptions_total`). Default: derived from the memory the shard has, see "
                    + "`NURI_KV_CACHE_MEMORY_FRACTION`"),
    KV_CACHE_MEMORY_FRACTION("NURI_KV_CACHE_MEMORY_FRACTION", "0.5",
            "without `NURI_KV_CACHE_TOKENS`: share of the heap still free once the weights are loaded that the KV cache "
                    + "may fill (the heap follows the pod's memory limit: `-XX:MaxRAMPercentage`)"),
    KV_BLOCK_SIZE("NURI_KV_BLOCK_SIZE", "16", "positions per KV-cache block (every layer; MLA's compressed latent included)"),
    PREFIX_CACHING("NURI_PREFIX_CACHING", "true",
            "`true`: full KV blocks are shared between requests whose tokens up to and including the block are the same "
                    + "(a shared system prompt is computed once), the least recently used evicted first; `false`: off"),
    MAX_BATCH("NURI_MAX_BATCH", "" + Defaults.MAX_BATCH,
            "sequences per decode step (the CRD's `spec.serving.maxSequences`); batch requests are admitted only within "
                    + "it (at most half of it), interactive ones up to it whatever batch work holds"),
    MAX_WAITING("NURI_MAX_WAITING", "1024", "queued requests before 429"),
    BATCH_STEP_TOKENS("NURI_BATCH_STEP_TOKENS", "" + Defaults.BATCH_STEP_TOKENS,
            "tokens of batch work (`X-Nuri-Priority: batch`) per engine step (the CRD's `spec.batch.stepTokens`) while "
                    + "no interactive request is admitted "
                    + "or waiting (decodes, then prompt chunks); an interactive request that arrives waits for the step in "
                    + "progress, so this bounds what a batch adds to its time to first token. Higher: more batch "
                    + "throughput, longer waits. While interactive work runs, a step carries at most one batch token"),
    MAX_BATCHED_TOKENS("NURI_MAX_BATCHED_TOKENS", "" + Defaults.MAX_BATCHED_TOKENS,
            "tokens per engine step (the CRD's `spec.serving.maxBatchedTokens`): the next token of every running sequence, "
                    + "then prompt chunks up to this total (chunked prefill: a longer prompt takes several steps, so it never "
                    + "stalls the running streams for more than one). The decodes count: a step's prompt chunk is this less "
                    + "the running sequences, and a new request starts only while fewer than this many run, so below "
                    + "`NURI_MAX_BATCH` it also caps the sequences running at once. Smaller: shorter stalls of the running "
                    + "streams while a long prompt is prefilled, a longer time to first token for that prompt (docs/benchmarks.md)"),
    DEFAULT_MAX_TOKENS("NURI_DEFAULT_MAX_TOKENS", "1024", "chat `max_tokens` when absent (completions default to 16, as OpenAI)"),
    MAX_BODY_BYTES("NURI_MAX_BODY_BYTES", "" + Defaults.MAX_BODY_BYTES, "larger request bodies get 413"),
    HTTP_REQUEST_READ_TIMEOUT_SECONDS("NURI_HTTP_REQUEST_READ_TIMEOUT_SECONDS", "" + Defaults.HTTP_REQUEST_READ_TIMEOUT_SECONDS,
            "a request must arrive whole (headers and body) within this of its first byte, else the connection is closed"),
    HTTP_IDLE_TIMEOUT_SECONDS("NURI_HTTP_IDLE_TIMEOUT_SECONDS", "" + Defaults.HTTP_IDLE_TIMEOUT_SECONDS,
            "a connection with no request under way (fresh, or kept alive after a response) is closed after this; requests "
                    + "being served have no timer"),
    HTTP_MAX_CONNECTIONS("NURI_HTTP_MAX_CONNECTIONS", "" + Defaults.HTTP_MAX_CONNECTIONS,
            "HTTP connections past this many are closed as they open"),
    HTTP_STREAM_BUFFER_BYTES("NURI_HTTP_STREAM_BUFFER_BYTES", "" + Defaults.HTTP_STREAM_BUFFER_BYTES,
            "a streamed response whose client stops reading is aborted (generation cancelled, connection reset) once this "
                    + "many bytes wait past the socket's write queue"),
    CHAT_TEMPLATE("NURI_CHAT_TEMPLATE", null,
            "a Jinja file that replaces the tokenizer's chat template (vLLM's `--chat-template`); default: the tokenizer's"),
    TOOL_CALL_PARSER("NURI_TOOL_CALL_PARSER", "deepseek_v3",
            "how the model writes tool calls (vLLM's `--tool-call-parser`; CRD `spec.serving.toolCallParser`): `deepseek_v3` "
            + "(DeepSeek-V3, A.X K1), `hermes` (Qwen3, Hermes), `mistral`"),
    CHAT_TEMPLATE_TIMEOUT_MS("NURI_CHAT_TEMPLATE_TIMEOUT_MS", "" + Defaults.CHAT_TEMPLATE_TIMEOUT_MS,
            "a chat-template render that has used this much CPU time (not wall-clock time) fails with 400 (`param: messages`)"),
    HTTP_HALF_CLOSE("NURI_HTTP_HALF_CLOSE", "false",
            "true: a client's FIN after a whole request means it is done sending, and it still gets its response; false: a "
                    + "FIN means the client left and its request is cancelled (as nginx)"),
    CORS_ALLOWED_ORIGINS("NURI_CORS_ALLOWED_ORIGINS", null,
            "comma-separated origins (or `*`) whose browser pages may call the API; preflights are answered before the "
                    + "API-key check; default: no CORS"),
    DRAIN_SECONDS("NURI_DRAIN_SECONDS", "30", "SIGTERM grace: running requests finish, new ones get 503"),
    API_KEY("NURI_API_KEY", null,
            "when set, every request except `/health`, `/health/live`, `/health/ready`, `/metrics` and `/openapi.json` (so `/v1/*`, `/tokenize`, "
                    + "`/detokenize`) must send `Authorization: Bearer <key>`; otherwise 401 `{\"error\": {\"message\", \"type\": "
                    + "\"invalid_request_error\", \"param\": null, \"code\": \"invalid_api_key\"}}` + `WWW-Authenticate: Bearer`. "
                    + "Compared in constant time (SHA-256 digests), never logged; set it from a Secret. Default: open"),
    API_KEYS_FILE("NURI_API_KEYS_FILE", null,
            "a file of API keys with their own limits (a mounted Secret; re-read within a second of a change): one key a "
                    + "line, `<name> <key> [requests-per-minute] [tokens-per-minute]` (`-` or nothing: no limit; `#` comments). "
                    + "Accepted beside `NURI_API_KEY`. Past a limit: 429 `rate_limit_error` + `Retry-After`; a request counts "
                    + "its prompt tokens plus `max_tokens` for every choice, as OpenAI counts. Key names may be logged, keys "
                    + "never. Unreadable or malformed at start: the shard exits (status 2)"),
    CONTEXT_LENGTH("NURI_CONTEXT_LENGTH", null,
            "cap on prompt + completion tokens per sequence (default: the model's `max_position_embeddings`); longer prompts "
                    + "get 400 `context_length_exceeded` naming the cap; `/v1/models` and `/tokenize` report it as "
                    + "`max_model_len`. Larger than the model's `max_position_embeddings`: the shard exits at start (status 2) "
                    + "with a message"),
    QUANTIZATION("NURI_QUANTIZATION", null,
            "`q8_0`: re-quantise every linear weight except router and output head to Q8_0 blocks at load time (kernels "
                    + "`LoadOptions(true)`; a matrix whose input width is not a multiple of 32 stays as stored); routed experts "
                    + "only where this shard's placement puts them, and the checkpoint pages a quantised weight was read from "
                    + "are released, so the shard keeps the Q8_0 copy only. `bf16` / "
                    + "`fp8`: serve the checkpoint as stored; if most of its weight matrices are of another type, a warning is "
                    + "logged, nothing is converted. `q8_0` with a `builtin:` model: the shard exits at start (the kernels build "
                    + "builtin models without load options); `bf16`/`fp8` there only warn (builtin weights are F32). Any other "
                    + "value: exit at start. Default: the checkpoint's own types"),
    QUANTIZE_LM_HEAD("NURI_QUANTIZE_LM_HEAD", "false",
            "with `q8_0`: `true` re-quantises the output head (`lm_head`, and embeddings tied to it) to Q8_0 too, as "
                    + "llama.cpp's Q8_0 files have it: the largest matrix a decoded token reads, in half the bytes (2.3 GB a "
                    + "token less for A.X K1), for logits and log-probabilities with Q8_0's error (7.5e-3 of the largest "
                    + "logit on the golden tiny model). `false`: the head as stored, for a teacher's log-probabilities. "
                    + "`true` without `q8_0`, or neither true nor false: exit at start"),
    KERNEL_THREADS("NURI_KERNEL_THREADS", null,
            "threads the kernels split each product, the experts of a step and attention's heads over (the calling thread included); "
                    + "default: the CPUs the JVM sees, which follow the container's CPU limit (cgroup v1 or v2 quota, "
                    + "rounded up) and cpuset; `1` runs them on the engine's thread alone"),
    BATCH_DIR("NURI_BATCH_DIR", null,
            "directory of the OpenAI Files and Batch API (`/v1/files`, `/v1/batches`; docs/batch.md): uploaded files, each "
                    + "batch's state and output; batches resume from it after a restart. One process per directory (a lock "
                    + "file). A pod's own, lost with the pod unless it is a mounted volume. Unset: those routes answer 503"),
    BATCH_MAX_FILE_BYTES("NURI_BATCH_MAX_FILE_BYTES", "209715200",
            "largest file `/v1/files` takes (413 `file_too_large` past it; OpenAI's batch input limit is 200 MB)"),
    BATCH_WINDOW_SECONDS("NURI_BATCH_WINDOW_SECONDS", "86400",
            "a batch's completion window (OpenAI's `24h`, which clients still send): a batch not finished this long after "
                    + "it was created (`expires_at`) becomes `expired`; its unanswered requests get `batch_expired` lines in "
                    + "the error file, answered ones keep their output. Shorter only for tests"),
    BATCH_CONCURRENCY("NURI_BATCH_CONCURRENCY", "8",
            "batch requests in flight at once, over all batches; the engine also admits batch work only when no "
                    + "interactive request waits, and gives it at most half of `NURI_MAX_BATCH`"),
    EXIT_WITH_PARENT("NURI_EXIT_WITH_PARENT", "false",
            "exit when the launching process exits (set by `serve` and the tests for their child shards)");

    /** Defaults the operator also needs (its CRD defaults are these constants). */
    public static final class Defaults {
        public static final String MODEL = "builtin:tiny-axk1";
        public static final int PORT = 8000;
        public static final int PEER_PORT = 9000;
        public static final int MAX_BATCH = 256;
        public static final int MAX_BATCHED_TOKENS = 2048;
        public static final int BATCH_STEP_TOKENS = 16;
        public static final long MAX_BODY_BYTES = 4 << 20;
        public static final int HTTP_REQUEST_READ_TIMEOUT_SECONDS = 10;
        public static final int HTTP_IDLE_TIMEOUT_SECONDS = 60;
        public static final int HTTP_MAX_CONNECTIONS = 4096;
        public static final long HTTP_STREAM_BUFFER_BYTES = 1 << 20;
        public static final int CHAT_TEMPLATE_TIMEOUT_MS = 2000;

        private Defaults() {}
    }

    private final String env;
    private final String defaultValue;
    private final String description;

    ShardSetting(String env, String defaultValue, String description) {
        this.env = env;
        this.defaultValue = defaultValue;
        this.description = description;
    }

    /** The environment variable, e.g. {@code NURI_PEER_PORT}. */
    public String env() {
        return env;
    }

    /** The flag without its dashes, e.g. {@code peer-port}. */
    public String flag() {
        return env.substring("NURI_".length()).toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The value used when neither flag nor variable is set; null when there is none or it is computed. */
    public String defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }

    /** How messages name the setting: {@code --peer-port / NURI_PEER_PORT}. */
    public String names() {
        return "--" + flag() + " / " + env;
    }

    public static ShardSetting ofEnv(String name) {
        for (ShardSetting s : values()) if (s.env.equals(name)) return s;
        return null;
    }

    public static ShardSetting ofFlag(String flag) {
        for (ShardSetting s : values()) if (s.flag().equals(flag)) return s;
        return null;
    }

    /** The Markdown table of runtime-image/PLACEMENT.md. */
    public static String markdownTable() {
        StringBuilder b = new StringBuilder("| variable | flag | default | meaning |\n|---|---|---|---|\n");
        for (ShardSetting s : values()) {
            b.append("| `").append(s.env).append("` | `--").append(s.flag()).append("` | ")
                    .append(s.defaultValue == null ? "–" : "`" + s.defaultValue + "`").append(" | ")
                    .append(s.description).append(" |\n");
        }
        return b.toString();
    }
}
