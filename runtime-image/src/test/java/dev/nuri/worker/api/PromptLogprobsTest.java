package dev.nuri.worker.api;

import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.sampling.Sampler;
import dev.nuri.kernels.weights.Json;
import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * vLLM's {@code prompt_logprobs}, served by a shard that runs the kernels' golden A.X K1 fixture (a tiny random model
 * whose per-position logits transformers wrote in kernels/golden/make_golden.py), so the teacher's prompt scores are
 * checked against both the kernels' own prefill and transformers.
 */
class PromptLogprobsTest {
    static final Path FIXTURE = Path.of("../kernels/src/test/resources/golden/axk1-f32");
    /** The builtin tokenizer (512 ids) covers the fixture's 256-token vocabulary; only ids travel in these requests. */
    static final Path TOKENIZER = Path.of("src/main/resources/dev/nuri/worker/builtin/tiny-axk1");
    static InProcessShard shard;
    static Http http;
    /** The builtin model, for chat (its text prompts tokenize beyond the fixture's vocabulary) */
    static InProcessShard builtin;
    static int[] prompt;
    static float[][] transformersLogits;

    @BeforeAll
    static void start() throws IOException {
        shard = InProcessShard.startModel(FIXTURE.toString(), "--tokenizer", TOKENIZER.toString());
        http = shard.http;
        builtin = InProcessShard.start();
        Map<String, Object> golden = Json.parseObject(Files.readString(FIXTURE.resolve("golden.json")));
        prompt = ((List<?>) golden.get("prompt")).stream().mapToInt(x -> ((Number) x).intValue()).toArray();
        List<?> shape = (List<?>) golden.get("logits_shape");
        int rows = ((Number) shape.get(0)).intValue(), vocab = ((Number) shape.get(1)).intValue();
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(FIXTURE.resolve("logits.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        transformersLogits = new float[rows][vocab];
        for (int r = 0; r < rows; r++) for (int v = 0; v < vocab; v++) transformersLogits[r][v] = b.getFloat((r * vocab + v) * 4);
    }

    @AfterAll
    static void stop() {
        shard.close();
        builtin.close();
    }

    static JsonArray ids(int[] tokens) {
        JsonArray a = new JsonArray();
        for (int t : tokens) a.add(t);
        return a;
    }

    /** Logits after each prefix of the prompt, from the kernels' own prefill (one fresh prefill per position). */
    static float[][] kernelPrefillLogits() {
        CausalLm model = CausalLm.load(FIXTURE);
        float[][] rows = new float[prompt.length][];
        for (int i = 0; i < prompt.length; i++) {
            rows[i] = model.prefill(Arrays.copyOf(prompt, i + 1), model.newCache(prompt.length), model.localExperts());
        }
        return rows;
    }

    @Test
    void promptLogprobsEqualTheLogSoftmaxOfPrefillLogitsAndOfTransformers() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", ids(prompt)).put("max_tokens", 0)
                .put("prompt_logprobs", 20));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonArray scored = r.json().getJsonArray("choices").getJsonObject(0).getJsonArray("prompt_logprobs");
        assertThat(scored.size()).isEqualTo(prompt.length);
        assertThat(scored.getValue(0)).as("the first prompt token has nothing before it").isNull();
        float[][] kernels = kernelPrefillLogits();
        double worstKernels = 0, worstTransformers = 0;
        for (int i = 1; i < prompt.length; i++) {
            JsonObject entry = scored.getJsonObject(i);
            float[] fromKernels = Sampler.logSoftmax(kernels[i - 1]);
            float[] fromTransformers = Sampler.logSoftmax(transformersLogits[i - 1]);
            // the prompt token itself, plus the 20 most likely (the prompt token may be among them)
            assertThat(entry.fieldNames()).contains(Integer.toString(prompt[i]));
            Sampler.Candidate[] top = Sampler.topLogprobs(kernels[i - 1], 20);
            for (Sampler.Candidate c : top) assertThat(entry.fieldNames()).contains(Integer.toString(c.token()));
            assertThat(entry.size()).isBetween(20, 21);
            for (String key : entry.fieldNames()) {
                int token = Integer.parseInt(key);
                double served = entry.getJsonObject(key).getDouble("logprob");
                worstKernels = Math.max(worstKernels, Math.abs(served - fromKernels[token]));
                worstTransformers = Math.max(worstTransformers, Math.abs(served - fromTransformers[token]));
                int rank = 1;
                for (float x : fromKernels) if (x > fromKernels[token]) rank++;
                assertThat(entry.getJsonObject(key).getInteger("rank")).as("rank of " + token + " at " + i).isEqualTo(rank);
            }
        }
        System.out.printf("prompt_logprobs: max |served - kernels| %.2e, max |served - transformers| %.2e%n", worstKernels, worstTransformers);
        assertThat(worstKernels).isLessThanOrEqualTo(1e-4);
        assertThat(worstTransformers).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void promptLogprobsAndEchoLogprobsAreTwoViewsOfOneScoring() {
        Http.Response r = http.post("/v1/completions", new JsonObject().put("prompt", ids(prompt)).put("max_tokens", 2)
                .put("temperature", 0).put("echo", true).put("logprobs", 1).put("prompt_logprobs", 3));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        JsonArray vllm = choice.getJsonArray("prompt_logprobs");
        JsonObject legacy = choice.getJsonObject("logprobs");
        for (int i = 1; i < prompt.length; i++) {
            double fromVllm = vllm.getJsonObject(i).getJsonObject(Integer.toString(prompt[i])).getDouble("logprob");
            assertThat(legacy.getJsonArray("token_logprobs").getDouble(i)).isCloseTo(fromVllm, within(1e-6));
            assertThat(legacy.getJsonArray("top_logprobs").getJsonObject(i).size()).as("legacy view keeps logprobs=1").isEqualTo(1);
            assertThat(vllm.getJsonObject(i).size()).isBetween(3, 4);
        }
        assertThat(legacy.getJsonArray("token_logprobs").size()).isEqualTo(prompt.length + 2);
    }

    @Test
    void chatCarriesPromptLogprobsBesideTheChoices() {
        JsonObject body = new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")))
                .put("max_tokens", 1).put("prompt_logprobs", 2).put("n", 2);
        Http.Response r = builtin.http.post("/v1/chat/completions", body);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        int promptTokens = r.json().getJsonObject("usage").getInteger("prompt_tokens");
        JsonArray scored = r.json().getJsonArray("prompt_logprobs");
        assertThat(scored.size()).isEqualTo(promptTokens);
        assertThat(scored.getValue(0)).isNull();
        for (int i = 1; i < scored.size(); i++) {
            for (String key : scored.getJsonObject(i).fieldNames()) {
                assertThat(scored.getJsonObject(i).getJsonObject(key).getDouble("logprob")).isLessThanOrEqualTo(0.0);
            }
        }
    }

    @Test
    void refusesWhatItCannotAnswer() {
        Http.Response stream = http.post("/v1/completions", new JsonObject().put("prompt", ids(prompt)).put("prompt_logprobs", 1)
                .put("stream", true));
        assertThat(stream.status()).isEqualTo(400);
        assertThat(stream.json().getJsonObject("error").getString("param")).isEqualTo("prompt_logprobs");
        Http.Response tooMany = http.post("/v1/completions", new JsonObject().put("prompt", ids(prompt)).put("prompt_logprobs", 21));
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().getJsonObject("error").getString("param")).isEqualTo("prompt_logprobs");
    }
}
