package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ShardSettingsTest {
    @Test
    void flagsOverrideVariablesWhichOverrideDefaults() {
        ShardSettings s = ShardSettings.parse(new String[] {"--peer-port", "9300"},
                Map.of(ShardSetting.PEER_PORT.env(), "9200", ShardSetting.MAX_BATCH.env(), "64"));
        assertThat(s.peerPort()).isEqualTo(9300);
        assertThat(s.maxBatch()).isEqualTo(64);
        assertThat(s.port()).isEqualTo(ShardSetting.Defaults.PORT);
        assertThat(s.maxBatchedTokens()).isEqualTo(ShardSetting.Defaults.MAX_BATCHED_TOKENS);
        assertThat(s.kvCacheTokens()).as("unset: the worker derives it from its memory").isZero();
        assertThat(s.kvCacheMemoryFraction()).isEqualTo(0.5);
        assertThat(s.kvBlockSize()).isEqualTo(16);
        assertThat(s.prefixCaching()).as("prefix caching is on by default").isTrue();
        assertThat(s.contextLength()).isZero();
        assertThat(s.quantization()).isNull();
    }

    @Test
    void unknownFlagsAreRefusedAndUnknownVariablesReported() {
        assertThatThrownBy(() -> ShardSettings.parse(new String[] {"--peer-prot", "1"}, Map.of()))
                .hasMessageContaining("unknown flag --peer-prot");
        assertThat(ShardSettings.parse(new String[0], Map.of("NURI_MAX_BATCHES", "1", ShardSetting.PORT.env(), "1", "HOME", "/")).unknownVariables())
                .containsExactly("NURI_MAX_BATCHES");
    }

    @Test
    void validateNamesTheSettingThatIsWrong() {
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.SHARDS.env(), "2", ShardSetting.PEERS.env(), "a:1")).validate())
                .hasMessageContaining("--peers / NURI_PEERS must list all 2 shards");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.MAX_BATCH.env(), "many")).validate())
                .hasMessageContaining("--max-batch / NURI_MAX_BATCH must be an integer, got 'many'");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.KV_CACHE_MEMORY_FRACTION.env(), "1.5")).validate())
                .hasMessageContaining("--kv-cache-memory-fraction / NURI_KV_CACHE_MEMORY_FRACTION must be a number in (0, 1], got '1.5'");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.PREFIX_CACHING.env(), "yes")).validate())
                .hasMessageContaining("--prefix-caching / NURI_PREFIX_CACHING must be true or false, got 'yes'");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.KV_BLOCK_SIZE.env(), "0")).validate())
                .hasMessageContaining("--kv-block-size / NURI_KV_BLOCK_SIZE must be at least 1, got 0");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.QUANTIZATION.env(), "int4")).validate())
                .hasMessageContaining("bf16, fp8 or q8_0");
        assertThatThrownBy(() -> ShardSettings.parse(new String[] {"--quantize-lm-head", "true"}, Map.of()).validate())
                .hasMessageContaining("--quantize-lm-head / NURI_QUANTIZE_LM_HEAD true needs --quantization / NURI_QUANTIZATION q8_0")
                .hasMessageContaining("got none");
        assertThatThrownBy(() -> ShardSettings.parse(new String[] {"--quantization", "bf16", "--quantize-lm-head", "true"}, Map.of()).validate())
                .hasMessageContaining("got bf16");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.QUANTIZE_LM_HEAD.env(), "yes")).validate())
                .hasMessageContaining("--quantize-lm-head / NURI_QUANTIZE_LM_HEAD must be true or false, got 'yes'");
        assertThat(ShardSettings.parse(new String[] {"--quantization", "q8_0", "--quantize-lm-head", "true"}, Map.of()).quantizeLmHead()).isTrue();
        assertThat(ShardSettings.parse(new String[] {"--quantization", "q8_0"}, Map.of()).quantizeLmHead()).as("default: as stored").isFalse();
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.SHARD_INDEX.env(), "3")).validate())
                .hasMessageContaining("3 is outside 0..0");
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.KERNEL_THREADS.env(), "0")).validate())
                .hasMessageContaining("--kernel-threads / NURI_KERNEL_THREADS must be at least 1, got 0");
        assertThat(ShardSettings.parse(new String[] {"--kernel-threads", "3"}, Map.of()).kernelThreads()).isEqualTo(3);
        assertThat(ShardSettings.parse(new String[0], Map.of()).kernelThreads()).as("unset: the pool's own size").isZero();
        assertThatThrownBy(() -> ShardSettings.parse(new String[0], Map.of(ShardSetting.TWO_BATCH_OVERLAP_MIN_TOKENS.env(), "1")).validate())
                .hasMessageContaining("NURI_TWO_BATCH_OVERLAP_MIN_TOKENS must be 0 (off) or at least 2");
        assertThat(ShardSettings.parse(new String[0], Map.of()).twoBatchOverlapMinTokens()).as("default: off").isZero();
    }

    @Test
    void namesAreUniqueAndFollowTheFlag() {
        Set<String> flags = new HashSet<>();
        for (ShardSetting s : ShardSetting.values()) {
            assertThat(s.env()).matches("NURI_[A-Z0-9_]+");
            assertThat(flags.add(s.flag())).as(s.flag()).isTrue();
            assertThat(ShardSetting.ofEnv(s.env())).isSameAs(s);
            assertThat(s.description()).doesNotContain("\n", "|");
        }
    }
}
