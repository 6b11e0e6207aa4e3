package dev.nuri.operator.shard;

/**
 * Environment variables through which the operator configures a worker. The worker's side of this
 * contract is the table in runtime-image/PLACEMENT.md; ShardEnvContractTest fails when a name here
 * is missing there.
 */
public final class ShardEnv {
    public static final String MODEL = "NURI_MODEL";
    public static final String SERVED_MODEL_NAME = "NURI_SERVED_MODEL_NAME";
    public static final String GROUP_INDEX = "NURI_GROUP_INDEX";
    public static final String SHARD_INDEX = "NURI_SHARD_INDEX";
    public static final String SHARDS = "NURI_SHARDS";
    /** All shards of the group as host:peerPort, in shard order, the pod's own entry included. */
    public static final String PEERS = "NURI_PEERS";
    public static final String PLACEMENT_FILE = "NURI_PLACEMENT_FILE";
    public static final String PORT = "NURI_PORT";
    public static final String PEER_PORT = "NURI_PEER_PORT";
    public static final String BIND_HOST = "NURI_BIND_HOST";
    /** spec.serving.maxSequences: sequences per decode step. */
    public static final String MAX_BATCH = "NURI_MAX_BATCH";
    /** spec.serving.maxBatchedTokens: prompt tokens prefilled between two decode steps. */
    public static final String PREFILL_TOKENS_PER_STEP = "NURI_PREFILL_TOKENS_PER_STEP";
    /** spec.model.quantization: q8_0 quantizes at load; bf16/fp8 serve the checkpoint as stored. */
    public static final String QUANTIZATION = "NURI_QUANTIZATION";
    /** spec.serving.contextLength: cap on prompt + completion tokens. */
    public static final String CONTEXT_LENGTH = "NURI_CONTEXT_LENGTH";
    /** From spec.serving.apiKeySecret: clients must send it as a Bearer token. */
    public static final String API_KEY = "NURI_API_KEY";
    /** Seconds the worker spends finishing requests after SIGTERM; below the pod's grace period. */
    public static final String DRAIN_SECONDS = "NURI_DRAIN_SECONDS";

    private ShardEnv() {}
}
