package dev.nuri.worker.shard;

import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;
import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * --quantization: q8_0 re-quantises a checkpoint at load time; bf16 / fp8 serve it as stored and only warn when it
 * contradicts. The checkpoint is the kernels' tiny A.X K1 golden fixture in BF16 (vocab 256), with the builtin
 * tokenizer beside it (its ids below 256 are the same specials and bytes).
 */
class QuantizationTest {
    @TempDir
    static Path modelDir;

    static Path checkpoint() throws IOException {
        if (Files.exists(modelDir.resolve("config.json"))) return modelDir;
        Path golden = Path.of("../kernels/src/test/resources/golden/axk1-bf16");
        if (!Files.isDirectory(golden)) golden = Path.of("kernels/src/test/resources/golden/axk1-bf16");
        Files.copy(golden.resolve("config.json"), modelDir.resolve("config.json"));
        Files.copy(golden.resolve("model.safetensors"), modelDir.resolve("model.safetensors"));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            try (InputStream in = QuantizationTest.class.getResourceAsStream("/dev/nuri/worker/builtin/tiny-axk1/" + f)) {
                Files.copy(in, modelDir.resolve(f));
            }
        }
        return modelDir;
    }

    static Shard start(String... flags) {
        Shard shard = Shard.start(ShardSettings.parse(flags, Map.of()));
        await().atMost(Duration.ofSeconds(60)).until(() -> shard.notReadyReason() == null);
        return shard;
    }

    /** Greedy completion of a token-id prompt (all ids < 256, the checkpoint's vocab); returns the first choice. */
    static JsonObject complete(Shard shard) {
        Http.Response r = new Http(shard.httpPort()).post("/v1/completions", new JsonObject()
                .put("prompt", new JsonArray().add(1).add(40).add(50).add(60).add(70)).put("max_tokens", 6)
                .put("temperature", 0).put("ignore_eos", true).put("logprobs", 1));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().getJsonObject("usage").getInteger("completion_tokens")).isEqualTo(6);
        return r.json().getJsonArray("choices").getJsonObject(0);
    }

    @Test
    void q8_0OnACheckpointLoadsAndServesACompletion() throws IOException {
        String dir = checkpoint().toString();
        double stored, quantized, withHead;
        try (Shard shard = start("--model", dir, "--port", "0")) {
            stored = complete(shard).getJsonObject("logprobs").getJsonArray("token_logprobs").getDouble(0);
        }
        try (Shard shard = start("--model", dir, "--port", "0", "--quantization", "q8_0")) {
            quantized = complete(shard).getJsonObject("logprobs").getJsonArray("token_logprobs").getDouble(0);
        }
        try (Shard shard = start("--model", dir, "--port", "0", "--quantization", "q8_0", "--quantize-lm-head", "true")) {
            withHead = complete(shard).getJsonObject("logprobs").getJsonArray("token_logprobs").getDouble(0);
        }
        // the same weights, rounded to 8-bit blocks: close, but not bit-identical; the head rounded too moves them again
        assertThat(quantized).isNotEqualTo(stored).isCloseTo(stored, org.assertj.core.data.Offset.offset(0.5));
        assertThat(withHead).isNotEqualTo(quantized).isCloseTo(quantized, org.assertj.core.data.Offset.offset(0.5));
    }

    @Test
    void fp8OnABf16CheckpointWarnsAndServesItAsStored() throws IOException {
        List<String> warnings = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) warnings.add(r.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger logger = Logger.getLogger(ModelPlan.class.getName());
        logger.addHandler(capture);
        try (Shard shard = start("--model", checkpoint().toString(), "--port", "0", "--quantization", "fp8")) {
            complete(shard);
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("--quantization fp8").contains("as BF16").contains("as stored"));
        } finally {
            logger.removeHandler(capture);
        }
        warnings.clear();
        logger.addHandler(capture);
        try (Shard shard = start("--model", checkpoint().toString(), "--port", "0", "--quantization", "bf16")) {
            complete(shard);
            assertThat(warnings).noneMatch(w -> w.contains("--quantization"));
        } finally {
            logger.removeHandler(capture);
        }
    }

    @Test
    void q8_0OnABuiltinModelIsRejectedAtStart() {
        assertThatThrownBy(() -> Shard.start(ShardSettings.parse(new String[] {"--port", "0", "--quantization", "q8_0"}, Map.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("q8_0 is not available for builtin models");
        assertThatThrownBy(() -> Shard.start(ShardSettings.parse(new String[] {"--port", "0"}, Map.of(ShardSetting.QUANTIZATION.env(), "int4"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bf16, fp8 or q8_0");
    }
}
