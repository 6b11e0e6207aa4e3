package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The OpenAI-compatible surface of one shard running the real kernels on the builtin model. */
class OpenAiApiTest {
    static InProcessShard shard;
    static Http http;

    @BeforeAll
    static void start() {
        shard = InProcessShard.start("--max-body-bytes", "65536");
        http = shard.http;
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    static JsonObject completion(String prompt, int maxTokens) {
        return new JsonObject().put("model", "tiny-axk1").put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0);
    }

    static JsonObject chat(String content, int maxTokens) {
        return new JsonObject().put("model", "tiny-axk1").put("max_tokens", maxTokens).put("temperature", 0)
                .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", content)));
    }

    @Test
    void listsTheServedModel() {
        JsonObject models = http.get("/v1/models").json();
        assertThat(models.getJsonArray("data").getJsonObject(0).getString("id")).isEqualTo("tiny-axk1");
        assertThat(models.getJsonArray("data").getJsonObject(0).getInteger("max_model_len")).isEqualTo(1024);
    }

    @Test
    void greedyCompletionIsDeterministicAndCountsUsage() {
        Http.Response a = http.post("/v1/completions", completion("Hello, world", 12));
        Http.Response b = http.post("/v1/completions", completion("Hello, world", 12));
        assertThat(a.status()).isEqualTo(200);
        JsonObject choice = a.json().getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("text")).isEqualTo(b.json().getJsonArray("choices").getJsonObject(0).getString("text"));
        int promptTokens = http.post("/tokenize", new JsonObject().put("prompt", "Hello, world")).json().getInteger("count");
        JsonObject usage = a.json().getJsonObject("usage");
        assertThat(usage.getInteger("prompt_tokens")).isEqualTo(promptTokens);
        int completionTokens = usage.getInteger("completion_tokens");
        assertThat(completionTokens).isBetween(1, 12);
        assertThat(usage.getInteger("total_tokens")).isEqualTo(promptTokens + completionTokens);
        if (completionTokens == 12) assertThat(choice.getString("finish_reason")).isEqualTo("length");
        else assertThat(choice.getString("finish_reason")).isEqualTo("stop");
    }

    @Test
    void seededSamplingIsReproducible() {
        JsonObject req = completion("서울의 날씨", 16).put("temperature", 1.0).put("top_p", 0.9).put("top_k", 50).put("seed", 42);
        String first = http.post("/v1/completions", req).json().getJsonArray("choices").getJsonObject(0).getString("text");
        String again = http.post("/v1/completions", req).json().getJsonArray("choices").getJsonObject(0).getString("text");
        String other = http.post("/v1/completions", req.copy().put("seed", 7)).json().getJsonArray("choices").getJsonObject(0).getString("text");
        assertThat(again).isEqualTo(first);
        assertThat(other).isNotEqualTo(first);
    }

    @Test
    void streamingCompletionMatchesTheNonStreamedTextAndEndsWithDone() {
        String whole = http.post("/v1/completions", completion("The quick brown fox", 20)).json()
                .getJsonArray("choices").getJsonObject(0).getString("text");
        Http.Response r = http.post("/v1/completions", completion("The quick brown fox", 20).put("stream", true)
                .put("stream_options", new JsonObject().put("include_usage", true)));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("text/event-stream");
        List<String> events = r.events();
        assertThat(events.getLast()).isEqualTo("[DONE]");
        JsonObject usageChunk = new JsonObject(events.get(events.size() - 2));
        assertThat(usageChunk.getJsonArray("choices")).isEmpty();
        assertThat(usageChunk.getJsonObject("usage").getInteger("completion_tokens")).isPositive();
        StringBuilder text = new StringBuilder();
        for (String e : events.subList(0, events.size() - 2)) {
            JsonObject chunk = new JsonObject(e);
            assertThat(chunk.getString("object")).isEqualTo("text_completion");
            assertThat(chunk.containsKey("usage")).isTrue();
            text.append(chunk.getJsonArray("choices").getJsonObject(0).getString("text"));
        }
        assertThat(text.toString()).isEqualTo(whole);
    }

    @Test
    void chatStreamsDeltasStartingWithTheAssistantRole() {
        JsonObject whole = http.post("/v1/chat/completions", chat("안녕하세요! 오늘 어때요?", 16)).json();
        assertThat(whole.getString("object")).isEqualTo("chat.completion");
        JsonObject message = whole.getJsonArray("choices").getJsonObject(0).getJsonObject("message");
        assertThat(message.getString("role")).isEqualTo("assistant");

        List<String> events = http.post("/v1/chat/completions", chat("안녕하세요! 오늘 어때요?", 16).put("stream", true)).events();
        assertThat(events.getLast()).isEqualTo("[DONE]");
        JsonObject first = new JsonObject(events.getFirst()).getJsonArray("choices").getJsonObject(0);
        assertThat(first.getJsonObject("delta").getString("role")).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonObject c = new JsonObject(e).getJsonArray("choices").getJsonObject(0);
            text.append(c.getJsonObject("delta").getString("content", ""));
            if (c.getString("finish_reason") != null) finish = c.getString("finish_reason");
        }
        assertThat(text.toString()).isEqualTo(message.getString("content"));
        assertThat(finish).isEqualTo(whole.getJsonArray("choices").getJsonObject(0).getString("finish_reason"));
    }

    @Test
    void chatLogprobsReturnTwentyAlternativesSortedForTheTeacherRole() {
        JsonObject r = http.post("/v1/chat/completions", chat("Explain experts.", 4).put("logprobs", true).put("top_logprobs", 20)).json();
        JsonArray content = r.getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs").getJsonArray("content");
        assertThat(content.size()).isEqualTo(r.getJsonObject("usage").getInteger("completion_tokens"));
        for (Object o : content) {
            JsonObject entry = (JsonObject) o;
            JsonArray top = entry.getJsonArray("top_logprobs");
            assertThat(top).hasSize(20);
            double previous = 0;
            for (Object t : top) {
                double lp = ((JsonObject) t).getDouble("logprob");
                assertThat(lp).isLessThanOrEqualTo(previous);
                previous = lp;
            }
            // greedy: the chosen token is the most likely one
            assertThat(entry.getDouble("logprob")).isEqualTo(top.getJsonObject(0).getDouble("logprob"));
            assertThat(entry.getJsonArray("bytes")).isNotEmpty();
        }
    }

    @Test
    void completionLogprobsUseTheLegacyShape() {
        JsonObject lp = http.post("/v1/completions", completion("Hi", 3).put("logprobs", 5)).json()
                .getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs");
        assertThat(lp.getJsonArray("tokens")).hasSize(3);
        assertThat(lp.getJsonArray("token_logprobs")).hasSize(3);
        assertThat(lp.getJsonArray("top_logprobs").getJsonObject(0).size()).isBetween(1, 5);
        assertThat(lp.getJsonArray("text_offset").getInteger(0)).isZero();
        // greedy: the chosen token is the most likely, so its logprob tops each step's alternatives,
        // even when several byte tokens render as the same text
        for (int i = 0; i < 3; i++) {
            double chosen = lp.getJsonArray("token_logprobs").getDouble(i);
            JsonObject top = lp.getJsonArray("top_logprobs").getJsonObject(i);
            assertThat(top.fieldNames()).allSatisfy(k -> assertThat(top.getDouble(k)).isLessThanOrEqualTo(chosen + 1e-6));
            assertThat(top.getMap().values()).anySatisfy(v -> assertThat(((Number) v).doubleValue())
                    .isCloseTo(chosen, org.assertj.core.data.Offset.offset(1e-6)));
        }
    }

    @Test
    void tooManyTopLogprobsIsRejected() {
        Http.Response r = http.post("/v1/chat/completions", chat("x", 2).put("logprobs", true).put("top_logprobs", 21));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("param")).isEqualTo("top_logprobs");
    }

    @Test
    void stopStringCutsTheTextBeforeIt() {
        String text = http.post("/v1/completions", completion("Once upon a time", 40)).json()
                .getJsonArray("choices").getJsonObject(0).getString("text");
        String stop = text.substring(10, 13);
        int at = text.indexOf(stop);
        JsonObject choice = http.post("/v1/completions", completion("Once upon a time", 40).put("stop", new JsonArray().add(stop))).json()
                .getJsonArray("choices").getJsonObject(0);
        assertThat(choice.getString("text")).isEqualTo(text.substring(0, at));
        assertThat(choice.getString("finish_reason")).isEqualTo("stop");
    }

    @Test
    void nChoicesAreIndexed() {
        JsonArray choices = http.post("/v1/completions", completion("Hello", 5).put("n", 3).put("temperature", 1.0).put("seed", 1)).json()
                .getJsonArray("choices");
        assertThat(choices).hasSize(3);
        for (int i = 0; i < 3; i++) assertThat(choices.getJsonObject(i).getInteger("index")).isEqualTo(i);
    }

    @Test
    void tokenizeAndDetokenizeRoundTripKorean() {
        String text = "안녕하세요, 세계! Hello.";
        JsonObject t = http.post("/tokenize", new JsonObject().put("prompt", text)).json();
        assertThat(t.getInteger("count")).isEqualTo(t.getJsonArray("tokens").size());
        JsonObject d = http.post("/detokenize", new JsonObject().put("tokens", t.getJsonArray("tokens"))).json();
        assertThat(d.getString("prompt")).isEqualTo(text);
    }

    @Test
    void requestIdIsEchoedAndNamesTheCompletion() {
        Http.Response r = http.post("/v1/completions", completion("x", 1).encode(), "X-Request-Id", "req-123");
        assertThat(r.headers().firstValue("X-Request-Id")).hasValue("req-123");
        assertThat(r.json().getString("id")).isEqualTo("cmpl-req-123");
        assertThat(http.get("/v1/models").headers().firstValue("X-Request-Id")).isPresent();
    }

    @Test
    void malformedJsonIs400() {
        Http.Response r = http.post("/v1/completions", "{\"prompt\": ");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("type")).isEqualTo("invalid_request_error");
        assertThat(r.json().getJsonObject("error").getString("message")).contains("not valid JSON");
    }

    @Test
    void fieldOfTheWrongTypeIs400NamingIt() {
        Http.Response r = http.post("/v1/completions", completion("x", 1).put("max_tokens", "ten"));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("param")).isEqualTo("max_tokens");
        Http.Response t = http.post("/v1/chat/completions", chat("x", 1).put("temperature", "hot"));
        assertThat(t.json().getJsonObject("error").getString("param")).isEqualTo("temperature");
    }

    @Test
    void promptLongerThanTheContextIs400() {
        Http.Response r = http.post("/v1/completions", completion("가".repeat(1200), 1));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("context_length_exceeded");
        Http.Response tooMany = http.post("/v1/completions", completion("x", 5000));
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().getJsonObject("error").getString("param")).isEqualTo("max_tokens");
    }

    @Test
    void overLargeBodyIs413() {
        Http.Response r = http.post("/v1/completions", completion("a".repeat(100_000), 1));
        assertThat(r.status()).isEqualTo(413);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("request_too_large");
    }

    @Test
    void unsupportedParametersAreRefused() {
        JsonArray tools = new JsonArray().add(new JsonObject().put("type", "function").put("function", new JsonObject().put("name", "f")));
        // tools are for chat (ToolCallingTest); the legacy completions endpoint refuses them, and chat the deprecated functions
        Http.Response r = http.post("/v1/completions", completion("x", 1).put("tools", tools));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("unsupported_parameter");
        assertThat(r.json().getJsonObject("error").getString("param")).isEqualTo("tools");
        Http.Response functions = http.post("/v1/chat/completions", chat("x", 1).put("functions", tools));
        assertThat(functions.status()).isEqualTo(400);
        assertThat(functions.json().getJsonObject("error").getString("param")).isEqualTo("functions");
        assertThat(http.post("/v1/completions", completion("x", 1).put("logit_bias", new JsonObject().put("5", 10))).status()).isEqualTo(400);
    }

    @Test
    void unknownModelIs404() {
        Http.Response r = http.post("/v1/completions", completion("x", 1).put("model", "gpt-4"));
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("model_not_found");
        assertThat(http.get("/v2/nothing").json().getJsonObject("error").getString("code")).isEqualTo("not_found");
    }

    @Test
    void wrongMethodOnAKnownPathIs405WithAllow() {
        Http.Response r = http.get("/v1/completions");
        assertThat(r.status()).isEqualTo(405);
        assertThat(r.headers().firstValue("Allow")).contains("POST");
        assertThat(r.json().getJsonObject("error").getString("code")).isEqualTo("method_not_allowed");
    }

    @Test
    void promptsTimesNIsCappedWith400NamingTheField() {
        JsonArray many = new JsonArray();
        for (int i = 0; i < 10_000; i++) many.add("a");
        Http.Response r = http.post("/v1/completions", completion("", 1).put("prompt", many));
        assertThat(r.status()).isEqualTo(400);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("param")).isEqualTo("prompt");
        assertThat(error.getString("type")).isEqualTo("invalid_request_error");
        assertThat(error.getString("message")).contains("10000 prompts", "128");

        JsonArray nine = new JsonArray();
        for (int i = 0; i < 9; i++) nine.add("a");
        Http.Response timesN = http.post("/v1/completions", completion("", 1).put("prompt", nine).put("n", 16));
        assertThat(timesN.status()).isEqualTo(400);
        assertThat(timesN.json().getJsonObject("error").getString("param")).isEqualTo("n");
        assertThat(timesN.json().getJsonObject("error").getString("message")).contains("9 prompts × n 16 = 144", "128");

        JsonArray eight = new JsonArray();
        for (int i = 0; i < 8; i++) eight.add("a");
        Http.Response atTheCap = http.post("/v1/completions", completion("", 1).put("prompt", eight).put("n", 16));
        assertThat(atTheCap.status()).isEqualTo(200);
        assertThat(atTheCap.json().getJsonArray("choices")).hasSize(128);
    }

    /**
     * The engine's queue time and TTFT, and the HTTP side's preparation time, by priority: a batch's requests wait by
     * design and would hide the interactive ones' tail (and push an autoscaler on TTFT).
     */
    @Test
    void latencyMetricsAreSplitByPriority() {
        List<String> series = List.of("nuri_time_to_first_token_seconds_count", "vllm:time_to_first_token_seconds_count",
                "nuri_request_queue_time_seconds_count", "nuri_request_prep_time_seconds_count", "nuri_request_prep_wait_seconds_count");
        String before = http.get("/metrics").body();
        assertThat(http.post("/v1/completions", completion("interactive", 2)).status()).isEqualTo(200);
        for (int i = 0; i < 2; i++) {
            assertThat(http.post("/v1/completions", completion("batch", 2).encode(), "X-Nuri-Priority", "batch").status()).isEqualTo(200);
        }
        String after = http.get("/metrics").body();
        for (String name : series) {
            assertThat(sum(after, name, "interactive") - sum(before, name, "interactive")).as(name + " interactive").isEqualTo(1);
            assertThat(sum(after, name, "batch") - sum(before, name, "batch")).as(name + " batch").isEqualTo(2);
        }
    }

    /** The named series' values with the given priority label, summed. */
    static double sum(String metrics, String name, String priority) {
        return metrics.lines().filter(l -> l.startsWith(name + "{") && l.contains("priority=\"" + priority + "\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** vLLM's serving metrics under nuri_ and under vLLM's own vllm: names (KEDA, the inference extension's picker). */
    static final List<String> VLLM_SERIES = List.of("prompt_tokens_total", "generation_tokens_total", "num_requests_running",
            "num_requests_waiting", "kv_cache_usage_perc", "time_to_first_token_seconds_bucket",
            "inter_token_latency_seconds_bucket", "e2e_request_latency_seconds_bucket", "request_queue_time_seconds_bucket",
            "request_prompt_tokens_bucket", "request_generation_tokens_bucket", "request_success_total{", "num_preemptions_total",
            "prefix_cache_queries_total", "prefix_cache_hits_total");

    @Test
    void healthAndMetricsServeVllmNamesUnderNuriAndVllmPrefixesWithoutMaxSeries() {
        assertThat(http.get("/health/live").status()).isEqualTo(200);
        assertThat(http.get("/health/ready").status()).isEqualTo(200);
        http.post("/v1/completions", completion("metrics", 3));
        String metrics = http.get("/metrics").body();
        for (String series : VLLM_SERIES) assertThat(metrics).contains("\nnuri_" + series, "\nvllm:" + series);
        assertThat(metrics).contains("nuri_moe_expert_compute_seconds_bucket", "nuri_moe_expert_tokens_total{", "nuri_moe_balancedness")
                .doesNotContain("vllm:moe_", "vllm:engine_", "vllm:placement_");
        assertThat(metrics.lines().filter(l -> !l.startsWith("#")).map(l -> l.split("[{ ]")[0]))
                .as("series names").noneMatch(name -> name.endsWith("_max"));
        assertThat(http.metric("nuri_generation_tokens_total")).isGreaterThanOrEqualTo(3)
                .isEqualTo(http.metric("vllm:generation_tokens_total"));
    }

    /** what a scrape itself may add to the process between two readings of /proc/self/status (buffers, the text) */
    static final long RSS_SLACK = 32L << 20;

    /**
     * The shard serves its resident memory as the kernel counts it: each gauge lies between two readings of
     * /proc/self/status taken around the scrape (the shard runs in this JVM, so its process is this one).
     */
    @Test
    void metricsServeTheShardProcessResidentMemoryAsProcStatusCountsIt() throws IOException {
        double total = bracketed("nuri_process_resident_memory_bytes{", "VmRSS");
        double anonymous = bracketed("nuri_process_resident_anonymous_memory_bytes{", "RssAnon");
        double file = bracketed("nuri_process_resident_file_memory_bytes{", "RssFile");
        // the heap in use is anonymous memory; the JVM's own library and the jars are file pages
        Runtime rt = Runtime.getRuntime();
        assertThat(anonymous).as("anonymous").isGreaterThan((double) (rt.totalMemory() - rt.freeMemory()) / 4);
        assertThat(file).as("file-backed").isPositive();
        assertThat(anonymous + file).as("anonymous + file-backed against the total").isLessThanOrEqualTo(total + 2 * RSS_SLACK);
    }

    static double bracketed(String series, String field) throws IOException {
        long before = procStatusBytes(field);
        double served = http.metric(series);
        long after = procStatusBytes(field);
        assertThat(served).as("%s against %s of /proc/self/status (%d then %d bytes)", series, field, before, after)
                .isBetween((double) Math.min(before, after) - RSS_SLACK, (double) Math.max(before, after) + RSS_SLACK);
        return served;
    }

    static long procStatusBytes(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) return Long.parseLong(line.split("\\s+")[1]) * 1024;
        }
        throw new AssertionError("no " + field + " in /proc/self/status");
    }
}
