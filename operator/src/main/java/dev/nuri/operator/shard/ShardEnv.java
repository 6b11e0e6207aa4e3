package dev.nuri.operator.shard;

/**
 * Environment variables through which the operator tells a worker who it is. The worker reads the
 * same names (runtime-image/PLACEMENT.md); change both together.
 */
public final class ShardEnv {
    public static final String MODEL = "NURI_MODEL";
    public static final String SERVED_MODEL_NAME = "NURI_SERVED_MODEL_NAME";
    public static final String QUANTIZATION = "NURI_QUANTIZATION";
    public static final String GROUP_INDEX = "NURI_GROUP_INDEX";
    public static final String SHARD_INDEX = "NURI_SHARD_INDEX";
    public static final String SHARDS = "NURI_SHARDS";
    public static final String PEERS = "NURI_PEERS";
    public static final String PLACEMENT_FILE = "NURI_PLACEMENT_FILE";
    public static final String PORT = "NURI_PORT";
    public static final String PEER_PORT = "NURI_PEER_PORT";
    public static final String MAX_BATCHED_TOKENS = "NURI_MAX_BATCHED_TOKENS";
    public static final String MAX_SEQUENCES = "NURI_MAX_SEQUENCES";
    public static final String CONTEXT_LENGTH = "NURI_CONTEXT_LENGTH";
    public static final String API_KEY = "NURI_API_KEY";
    public static final String REVISION = "NURI_REVISION";

    private ShardEnv() {}
}
