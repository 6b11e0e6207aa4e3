package dev.nuri.contract;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One shard's settings as the worker reads them: each {@link ShardSetting} from its flag, else its environment
 * variable (what the operator sets), else its default. The operator's round-trip test reads a generated pod's
 * environment through this same class.
 */
public final class ShardSettings {
    private final Map<String, String> flags;
    private final Map<String, String> env;

    private ShardSettings(Map<String, String> flags, Map<String, String> env) {
        this.flags = flags;
        this.env = env;
    }

    /** @throws IllegalArgumentException a flag that names no setting (a typo would otherwise be ignored) */
    public static ShardSettings parse(String[] args, Map<String, String> env) {
        Map<String, String> flags = Flags.parse(args);
        for (String name : flags.keySet()) {
            if (ShardSetting.ofFlag(name) == null) {
                throw new IllegalArgumentException("unknown flag --" + name + "; the settings are listed in runtime-image/PLACEMENT.md");
            }
        }
        return new ShardSettings(flags, env);
    }

    /** NURI_* variables of the environment that name no setting (the worker warns about them; the operator writes none). */
    public List<String> unknownVariables() {
        TreeSet<String> unknown = new TreeSet<>();
        for (String name : env.keySet()) {
            if (name.startsWith("NURI_") && ShardSetting.ofEnv(name) == null) unknown.add(name);
        }
        return List.copyOf(unknown);
    }

    /** The value set by flag or variable (trimmed), else the setting's default; null when neither. */
    public String string(ShardSetting s) {
        String v = flags.get(s.flag());
        if (v == null) v = env.get(s.env());
        return v == null || v.isBlank() ? s.defaultValue() : v.trim();
    }

    public boolean isSet(ShardSetting s) {
        String v = flags.get(s.flag());
        if (v == null) v = env.get(s.env());
        return v != null && !v.isBlank();
    }

    /** @throws IllegalArgumentException not an integer */
    public int integer(ShardSetting s, int fallback) {
        String v = string(s);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(s.names() + " must be an integer, got '" + v + "'");
        }
    }

    public int integer(ShardSetting s) {
        if (s.defaultValue() == null && !isSet(s)) {
            throw new IllegalStateException(s.names() + " has no default; use integer(setting, fallback)");
        }
        return integer(s, 0);
    }

    /** A whole number of at least 1 (a size, a count, a timeout). */
    public long positive(ShardSetting s) {
        String v = string(s);
        try {
            long n = Long.parseLong(v);
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(s.names() + " must be a whole number of at least 1, got '" + v + "'");
    }

    /** A comma-separated list; empty when not set. */
    public List<String> list(ShardSetting s) {
        List<String> out = new ArrayList<>();
        String v = string(s);
        if (v != null) for (String p : v.split(",")) if (!p.isBlank()) out.add(p.trim());
        return List.copyOf(out);
    }

    public boolean bool(ShardSetting s) {
        return Boolean.parseBoolean(string(s));
    }

    public int groupIndex() { return integer(ShardSetting.GROUP_INDEX); }

    public int shardIndex() { return integer(ShardSetting.SHARD_INDEX); }

    public int shards() { return integer(ShardSetting.SHARDS); }

    /** Every shard of the group, in shard order, as host:port of its peer port (this shard's own entry included). */
    public List<String> peers() {
        return list(ShardSetting.PEERS);
    }

    public String model() { return string(ShardSetting.MODEL); }

    /** Null: use the static layout. */
    public Path placementFile() {
        String v = string(ShardSetting.PLACEMENT_FILE);
        return v == null ? null : Path.of(v);
    }

    public String bindHost() { return string(ShardSetting.BIND_HOST); }

    public int port() { return integer(ShardSetting.PORT); }

    public int peerPort() { return integer(ShardSetting.PEER_PORT); }

    /** The key clients must send as {@code Authorization: Bearer <key>}; null when the API is open. Never log it. */
    public String apiKey() { return string(ShardSetting.API_KEY); }

    /** Cap on prompt + completion tokens; 0 means the model's max_position_embeddings. */
    public int contextLength() { return integer(ShardSetting.CONTEXT_LENGTH, 0); }

    /** Null: the checkpoint's own types. */
    public Quantization quantization() { return Quantization.parse(string(ShardSetting.QUANTIZATION)); }

    public ToolCallParser toolCallParser() { return ToolCallParser.parse(string(ShardSetting.TOOL_CALL_PARSER)); }

    /** The group's peer key; null when not set (a one-shard group needs none). Never log it. */
    public PeerKey peerKey() {
        String v = string(ShardSetting.PEER_KEY);
        return v == null ? null : PeerKey.parse(v);
    }

    public WireDType wireDType() { return WireDType.parse(string(ShardSetting.WIRE_DTYPE)); }

    public int maxBatch() { return integer(ShardSetting.MAX_BATCH); }

    public int maxBatchedTokens() { return integer(ShardSetting.MAX_BATCHED_TOKENS); }

    public int batchStepTokens() { return integer(ShardSetting.BATCH_STEP_TOKENS); }

    /** The KV-cache size asked for, in tokens; 0 when not set (the worker derives it from its memory). */
    public int kvCacheTokens() { return integer(ShardSetting.KV_CACHE_TOKENS, 0); }

    /** @throws IllegalArgumentException not a number in (0, 1] */
    public double kvCacheMemoryFraction() {
        String v = string(ShardSetting.KV_CACHE_MEMORY_FRACTION);
        try {
            double f = Double.parseDouble(v);
            if (f > 0 && f <= 1) return f;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(ShardSetting.KV_CACHE_MEMORY_FRACTION.names() + " must be a number in (0, 1], got '" + v + "'");
    }

    public int kvBlockSize() { return integer(ShardSetting.KV_BLOCK_SIZE); }

    /** @throws IllegalArgumentException neither true nor false */
    public boolean prefixCaching() {
        String v = string(ShardSetting.PREFIX_CACHING).trim();
        if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(ShardSetting.PREFIX_CACHING.names() + " must be true or false, got '" + v + "'");
        }
        return Boolean.parseBoolean(v);
    }

    /** @throws IllegalArgumentException neither true nor false, or true without q8_0 */
    public boolean quantizeLmHead() {
        String v = string(ShardSetting.QUANTIZE_LM_HEAD).trim();
        if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(ShardSetting.QUANTIZE_LM_HEAD.names() + " must be true or false, got '" + v + "'");
        }
        boolean on = Boolean.parseBoolean(v);
        if (on && quantization() != Quantization.Q8_0) {
            throw new IllegalArgumentException(ShardSetting.QUANTIZE_LM_HEAD.names() + " true needs " + ShardSetting.QUANTIZATION.names()
                    + " q8_0 (the head is quantised with the rest of the model), got " + (quantization() == null ? "none" : quantization().value()));
        }
        return on;
    }

    /** Tokens from which a step runs as two overlapped micro-batches; 0: never. */
    public int twoBatchOverlapMinTokens() { return integer(ShardSetting.TWO_BATCH_OVERLAP_MIN_TOKENS); }

    /** Threads for the kernels; 0 when not set (the CPUs the JVM sees). */
    public int kernelThreads() { return integer(ShardSetting.KERNEL_THREADS, 0); }

    /** Checks the settings that do not need the model; {@link IllegalArgumentException} says which and why. */
    public void validate() {
        if (isSet(ShardSetting.CONTEXT_LENGTH) && contextLength() < 1) {
            throw new IllegalArgumentException(ShardSetting.CONTEXT_LENGTH.names() + " must be at least 1, got " + contextLength());
        }
        quantization();
        quantizeLmHead();
        toolCallParser();
        wireDType();
        if (isSet(ShardSetting.KERNEL_THREADS) && kernelThreads() < 1) {
            throw new IllegalArgumentException(ShardSetting.KERNEL_THREADS.names() + " must be at least 1, got " + kernelThreads());
        }
        kvCacheMemoryFraction();
        prefixCaching();
        if (twoBatchOverlapMinTokens() < 0 || twoBatchOverlapMinTokens() == 1) {
            throw new IllegalArgumentException(ShardSetting.TWO_BATCH_OVERLAP_MIN_TOKENS.names()
                    + " must be 0 (off) or at least 2 (two micro-batches of one token or more), got " + twoBatchOverlapMinTokens());
        }
        if (isSet(ShardSetting.KV_CACHE_TOKENS) && kvCacheTokens() < 1) {
            throw new IllegalArgumentException(ShardSetting.KV_CACHE_TOKENS.names() + " must be at least 1, got " + kvCacheTokens());
        }
        for (ShardSetting s : new ShardSetting[] {ShardSetting.MAX_BATCH, ShardSetting.MAX_BATCHED_TOKENS, ShardSetting.BATCH_STEP_TOKENS, ShardSetting.KV_BLOCK_SIZE,
                ShardSetting.MAX_WAITING, ShardSetting.PEER_TIMEOUT_SECONDS, ShardSetting.EXPERT_LOAD_WINDOW_SECONDS}) {
            if (integer(s) < 1) throw new IllegalArgumentException(s.names() + " must be at least 1, got " + integer(s));
        }
        for (ShardSetting s : new ShardSetting[] {ShardSetting.MAX_BODY_BYTES, ShardSetting.HTTP_REQUEST_READ_TIMEOUT_SECONDS,
                ShardSetting.HTTP_IDLE_TIMEOUT_SECONDS, ShardSetting.HTTP_MAX_CONNECTIONS, ShardSetting.HTTP_STREAM_BUFFER_BYTES,
                ShardSetting.CHAT_TEMPLATE_TIMEOUT_MS}) {
            positive(s);
        }
        int shards = shards();
        if (shards < 1) throw new IllegalArgumentException(ShardSetting.SHARDS.names() + " must be at least 1");
        if (shardIndex() < 0 || shardIndex() >= shards) {
            throw new IllegalArgumentException(ShardSetting.SHARD_INDEX.names() + " " + shardIndex() + " is outside 0.." + (shards - 1));
        }
        if (shards > 1 && peers().size() != shards) {
            throw new IllegalArgumentException(ShardSetting.PEERS.names() + " must list all " + shards
                    + " shards of the group as host:port in shard order (this shard's own entry included), got " + peers());
        }
        if (shards > 1 && peerKey() == null) {
            throw new IllegalArgumentException(ShardSetting.PEER_KEY.names() + " must be set for a group of " + shards
                    + " shards: the same 64 hex characters on every shard (e.g. from `openssl rand -hex 32`)");
        }
        for (String peer : peers()) {
            int colon = peer.lastIndexOf(':');
            if (colon <= 0 || !peer.substring(colon + 1).matches("[0-9]{1,5}")) {
                throw new IllegalArgumentException(ShardSetting.PEERS.names() + ": '" + peer + "' is not host:port");
            }
        }
    }
}
