package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import dev.nuri.contract.ShardSetting.Defaults;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.port != self.peerPort", message = "spec.serving.port and spec.serving.peerPort must differ",
        fieldPath = ".peerPort")
public class ServingSpec {

    // the worker's own defaults (shard-contract): a pod without the variable behaves as the CRD default says
    public static final int DEFAULT_PORT = Defaults.PORT;
    public static final int DEFAULT_PEER_PORT = Defaults.PEER_PORT;
    public static final int DEFAULT_MAX_BATCHED_TOKENS = Defaults.MAX_BATCHED_TOKENS;
    public static final int DEFAULT_MAX_SEQUENCES = Defaults.MAX_BATCH;

    @Default("" + DEFAULT_PORT)
    @Min(1024)
    @Max(65535)
    @JsonPropertyDescription("Port of the OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /metrics).")
    public Integer port;

    @Default("" + DEFAULT_PEER_PORT)
    @Min(1024)
    @Max(65535)
    @JsonPropertyDescription("Port on which the shards of a group exchange expert dispatch and combine frames.")
    public Integer peerPort;

    @Default("" + DEFAULT_MAX_BATCHED_TOKENS)
    @Min(1)
    @JsonPropertyDescription("Tokens per engine step of a shard: the next token of every running sequence, then prompt "
            + "chunks up to this total (chunked prefill: a longer prompt takes several steps, so it never stalls the running "
            + "streams for more than one). The decodes count: a step's prompt chunk is this less the running sequences, and "
            + "a new request starts only while fewer than this many run, so below maxSequences it also caps the sequences "
            + "running at once. Smaller: shorter stalls of the running streams while a long prompt is prefilled, a longer "
            + "time to first token for that prompt (docs/benchmarks.md). Passed to the worker as NURI_MAX_BATCHED_TOKENS.")
    public Integer maxBatchedTokens;

    @Default("" + DEFAULT_MAX_SEQUENCES)
    @Min(1)
    @JsonPropertyDescription("Most sequences a shard decodes at once; further requests wait in the queue.")
    public Integer maxSequences;

    @Min(1)
    @JsonPropertyDescription("Longest prompt plus completion, in tokens. Defaults to the model's max_position_embeddings.")
    public Integer contextLength;

    @JsonPropertyDescription("How the model writes tool calls, for tools in /v1/chat/completions (vLLM's --tool-call-parser): "
            + "deepseek_v3 (DeepSeek-V3, A.X K1; the worker's default), hermes (Qwen3, Hermes), mistral.")
    public ServingToolCallParser toolCallParser;

    @JsonPropertyDescription("A Secret key holding the API key clients must send as 'Authorization: Bearer <key>'. "
            + "Without it the API is open to anything that can reach the Service.")
    public SecretKeyRef apiKeySecret;

    @JsonPropertyDescription("A Secret key holding more API keys, each with its own limits: one a line, "
            + "'<name> <key> [requests-per-minute] [tokens-per-minute]' ('-' for no limit). Mounted into every shard "
            + "(NURI_API_KEYS_FILE); edits reach running shards without a restart. Past a limit clients get 429 with "
            + "Retry-After. Accepted beside apiKeySecret.")
    public ApiKeysRef apiKeysSecret;

    public int port() {
        return port != null ? port : DEFAULT_PORT;
    }

    public int peerPort() {
        return peerPort != null ? peerPort : DEFAULT_PEER_PORT;
    }

    public int maxBatchedTokens() {
        return maxBatchedTokens != null ? maxBatchedTokens : DEFAULT_MAX_BATCHED_TOKENS;
    }

    public int maxSequences() {
        return maxSequences != null ? maxSequences : DEFAULT_MAX_SEQUENCES;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class SecretKeyRef {
        public static final String DEFAULT_KEY = "api-key";

        @Required
        @JsonPropertyDescription("Name of the Secret in the ModelDeployment's namespace.")
        public String name;

        @Default(DEFAULT_KEY)
        @JsonPropertyDescription("Key inside the Secret.")
        public String key;

        public String key() {
            return key != null ? key : DEFAULT_KEY;
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ApiKeysRef {
        public static final String DEFAULT_KEY = "api-keys";

        @Required
        @JsonPropertyDescription("Name of the Secret in the ModelDeployment's namespace.")
        public String name;

        @Default(DEFAULT_KEY)
        @JsonPropertyDescription("Key inside the Secret.")
        public String key;

        public String key() {
            return key != null ? key : DEFAULT_KEY;
        }
    }
}
