package dev.nuri.worker.bench;

import dev.nuri.contract.ShardSetting;
import dev.nuri.worker.CliFlags;
import dev.nuri.worker.WorkerMain;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.ModelConfig;
import dev.nuri.worker.group.LocalGroup;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The engine's benchmarks (issue 15), each against one real shard process over HTTP. Not a test: run it with
 * runtime-image/bench/engine.sh {@code prefix|itl|capacity}; results and commands are in docs/benchmarks.md.
 * <ul>
 *   <li>{@code prefix}: TTFT of a request whose 2,000-token system prompt is cold vs cached, alternating, and the prefix
 *       cache hit rate under a mixed workload beside the hit rate an unbounded cache would reach.</li>
 *   <li>{@code itl}: inter-token latency of running streams, decode-only and while 4,000-token prompts arrive, for
 *       each {@code --max-batched-tokens} (8192: the whole prompt in one step, as before chunked prefill).</li>
 *   <li>{@code capacity}: sequences decoded per step at a fixed KV cache, for shards started from {@code --jars}
 *       (before and after paging), alternating.</li>
 * </ul>
 */
public final class EngineBench {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    private static final ExecutorService STREAMS = Executors.newVirtualThreadPerTaskExecutor();
    private static final int VOCAB_FROM = 3, VOCAB_TO = 500; // ids of the builtin tokenizer that are plain tokens

    private EngineBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) throw new IllegalArgumentException("usage: EngineBench prefix|itl|capacity [--flags]");
        CliFlags flags = CliFlags.parse(Arrays.copyOfRange(args, 1, args.length));
        System.out.printf("%d cores, load average %s%n", Runtime.getRuntime().availableProcessors(), loadAverage());
        switch (args[0]) {
            case "prefix" -> prefix(flags);
            case "itl" -> itl(flags);
            case "capacity" -> capacity(flags);
            default -> throw new IllegalArgumentException("unknown benchmark " + args[0]);
        }
        System.out.printf("load average after: %s%n", loadAverage());
    }

    // ---- prefix caching ----

    static void prefix(CliFlags flags) throws Exception {
        int rounds = flags.integer("rounds", 7), system = flags.integer("system-tokens", 2000);
        try (LocalGroup shard = start(flags, ownJar(), Map.of())) {
            int port = shard.httpPort(0);
            SplittableRandom random = new SplittableRandom(1);
            for (int i = 0; i < 3; i++) stream(port, tokens(random, 300), 1, 0); // JIT warm-up
            List<Double> cold = new ArrayList<>(), warm = new ArrayList<>(), alone = new ArrayList<>(), ratio = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                int[] sys = tokens(random, system);
                double c = stream(port, concat(sys, tokens(random, 20)), 1, 0).ttft();
                double w = stream(port, concat(sys, tokens(random, 20)), 1, 0).ttft();
                alone.add(stream(port, tokens(random, 20), 1, 0).ttft()); // the warm request's floor: its own 20 tokens
                cold.add(c);
                warm.add(w);
                ratio.add(c / w);
            }
            System.out.printf("%n| TTFT, %d-token system prompt + 20 tokens, %d rounds | min ms | median ms | max ms |%n|---|---|---|---|%n", system, rounds);
            row("cold (system prompt not cached)", cold, 1e3);
            row("warm (system prompt cached)", warm, 1e3);
            row("ceiling: the 20 tokens alone", alone, 1e3);
            row("cold / warm, per round (x)", ratio, 1);

            // a mixed workload: four system prompts of skewed popularity, and one request in five without one
            int requests = flags.integer("requests", 60);
            int[][] systems = {tokens(random, system), tokens(random, system), tokens(random, system), tokens(random, system)};
            double[] weights = {0.4, 0.3, 0.2, 0.1};
            List<int[]> prompts = new ArrayList<>();
            Set<Integer> seen = new HashSet<>();
            long queried = 0, reusable = 0;
            for (int i = 0; i < requests; i++) {
                int[] prompt;
                if (random.nextInt(5) == 0) {
                    prompt = tokens(random, 500);
                } else {
                    int s = pick(random, weights);
                    prompt = concat(systems[s], tokens(random, random.nextInt(10, 200)));
                    if (!seen.add(s)) reusable += system / 16 * 16; // an unbounded cache holds the system prompt's full blocks
                }
                queried += prompt.length;
                prompts.add(prompt);
            }
            Map<String, Double> before = scrape(port);
            try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
                List<Future<Timing>> done = new ArrayList<>();
                for (int[] p : prompts) done.add(pool.submit(() -> stream(port, p, 16, 0)));
                for (Future<Timing> f : done) f.get();
            }
            Map<String, Double> after = scrape(port);
            double hits = after.get("nuri_prefix_cache_hits_total") - before.get("nuri_prefix_cache_hits_total");
            double queries = after.get("nuri_prefix_cache_queries_total") - before.get("nuri_prefix_cache_queries_total");
            System.out.printf("%nmixed workload, %d requests at concurrency 4: hit rate %.1f%% (%.0f of %.0f prompt tokens); "
                    + "ceiling (unbounded cache, every repeated system prompt's full blocks): %.1f%%%n", requests, 100 * hits / queries,
                    hits, queries, 100.0 * reusable / queried);
        }
    }

    static int pick(SplittableRandom random, double[] weights) {
        double x = random.nextDouble();
        for (int i = 0; i < weights.length; i++) if ((x -= weights[i]) < 0) return i;
        return weights.length - 1;
    }

    // ---- chunked prefill ----

    static void itl(CliFlags flags) throws Exception {
        int rounds = flags.integer("rounds", 3), streams = flags.integer("streams", 8), longPrompt = flags.integer("long-tokens", 4000);
        int longPrompts = flags.integer("long-prompts", 2);
        int[] budgets = Arrays.stream(flags.string("budgets", "8192,2048,512").split(",")).mapToInt(Integer::parseInt).toArray();
        // a stream decodes until the round ends; it must fit the model's context beside its 32-token prompt
        int streamTokens = flags.integer("stream-tokens", Math.min(7000, contextOf(flags) - 32));
        double window = flags.integer("decode-only-seconds", 2);
        List<LocalGroup> shards = new ArrayList<>();
        try {
            for (int b : budgets) {
                // prefix caching off: each long prompt must be computed, not found
                Map<String, String> env = new HashMap<>(Map.of(ShardSetting.MAX_BATCHED_TOKENS.env(), Integer.toString(b),
                        ShardSetting.PREFIX_CACHING.env(), "false"));
                if (flags.string("kv-cache-tokens", null) != null) env.put(ShardSetting.KV_CACHE_TOKENS.env(), flags.string("kv-cache-tokens", null));
                shards.add(start(flags, ownJar(), env));
            }
            Map<Integer, List<ItlRound>> byBudget = new HashMap<>();
            SplittableRandom random = new SplittableRandom(2);
            for (int i = 0; i < budgets.length; i++) stream(shards.get(i).httpPort(0), tokens(random, 1000), 4, 0); // warm-up
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < budgets.length; i++) { // alternating: every budget once per round
                    int port = shards.get(i).httpPort(0);
                    String load = loadAverage();
                    ItlRound one = itlRound(port, streams, streamTokens, longPrompts, longPrompt, window, random);
                    byBudget.computeIfAbsent(budgets[i], k -> new ArrayList<>()).add(one);
                    System.out.printf("round %d, maxBatchedTokens %d (load average %s): ITL p99 decode-only %.1f ms, while prefilling %.1f ms; "
                                    + "TTFT of the long prompts %.1f s; mean step: decodes only %.1f ms (%d), with prompt tokens %.1f ms (%d)%n",
                            r + 1, budgets[i], load, one.decodeOnlyP99 * 1e3, one.whileLongP99 * 1e3, one.longTtft, one.decodeStep * 1e3,
                            one.decodeSteps, one.mixedStep * 1e3, one.mixedSteps);
                }
            }
            System.out.printf("%n| %d running streams; %d prompt(s) of %d tokens arrive | decode-only ITL p99 ms (min / median / max) | ITL p99 while they prefill ms (min / median / max) | ratio of medians | TTFT of the long prompts s (median) | mean step ms, decodes only / with prompt tokens (medians) |%n|---|---|---|---|---|---|%n",
                    streams, longPrompts, longPrompt);
            for (int b : budgets) {
                List<ItlRound> rs = byBudget.get(b);
                List<Double> decodeOnly = rs.stream().map(ItlRound::decodeOnlyP99).toList(), whileLong = rs.stream().map(ItlRound::whileLongP99).toList();
                System.out.printf("| maxBatchedTokens %d%s | %s | %s | %.1f | %.2f | %.1f / %.1f |%n", b, b >= longPrompt ? " (no chunking: the prompt in one step)" : "",
                        stats(decodeOnly, 1e3), stats(whileLong, 1e3), median(whileLong) / median(decodeOnly),
                        median(rs.stream().map(ItlRound::longTtft).toList()), median(rs.stream().map(ItlRound::decodeStep).toList()) * 1e3,
                        median(rs.stream().map(ItlRound::mixedStep).toList()) * 1e3);
            }
        } finally {
            shards.forEach(LocalGroup::close);
        }
    }

    /**
     * One round's figures; the mean step times come from the shard's step histograms over the round (decode-only steps
     * before the long prompts arrive and after, steps that carry prompt tokens while they prefill).
     */
    record ItlRound(double decodeOnlyP99, double whileLongP99, double longTtft, double decodeStep, int decodeSteps, double mixedStep,
                    int mixedSteps) {}

    static ItlRound itlRound(int port, int streams, int streamTokens, int longPrompts, int longPrompt, double window, SplittableRandom random)
            throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch decoding = new CountDownLatch(streams);
        List<CompletableFuture<Timing>> running = new ArrayList<>();
        for (int s = 0; s < streams; s++) {
            int[] p = tokens(random, 32);
            running.add(CompletableFuture.supplyAsync(() -> streamUnchecked(port, p, streamTokens, stop, decoding), STREAMS));
        }
        // every stream has its first decoded token (a slow machine takes seconds over the streams' prompts)
        if (!decoding.await(10, TimeUnit.MINUTES)) throw new IllegalStateException("the streams did not start decoding in 10 minutes");
        Map<String, Double> decodingFrom = scrape(port);
        Thread.sleep((long) (window * 1000)); // the decode-only window
        Map<String, Double> before = scrape(port);
        long longStart = System.nanoTime();
        double ttft = 0;
        for (int i = 0; i < longPrompts; i++) ttft += stream(port, tokens(random, longPrompt), 1, 0).ttft() / longPrompts;
        long longEnd = System.nanoTime();
        Map<String, Double> after = scrape(port);
        stop.set(true);
        List<Double> decodeOnly = new ArrayList<>(), whileLong = new ArrayList<>();
        for (CompletableFuture<Timing> f : running) {
            Timing t = f.get();
            if (t.tokenNanos.size() >= streamTokens) throw new IllegalStateException("a stream ended before the long prompts did: raise --stream-tokens");
            for (int i = 1; i < t.tokenNanos.size(); i++) {
                long at = t.tokenNanos.get(i), gap = at - t.tokenNanos.get(i - 1);
                if (at < longStart && at > longStart - (long) (window * 1e9)) decodeOnly.add(gap / 1e9);
                // a stream stalled by the last prompt's prefill gets its token in the same step, just after longEnd
                if (at > longStart && at <= longEnd + 500_000_000L) whileLong.add(gap / 1e9);
            }
        }
        Map<String, Double> end = scrape(port);
        // decode-only steps: before the long prompts, between them, and after (the streams decode on until stopped)
        double decodeSum = delta(decodingFrom, end, "nuri_engine_decode_step_seconds_sum");
        double decodeCount = delta(decodingFrom, end, "nuri_engine_decode_step_seconds_count");
        double mixedSum = delta(before, after, "nuri_engine_prefill_seconds_sum"), mixedCount = delta(before, after, "nuri_engine_prefill_seconds_count");
        return new ItlRound(percentile(decodeOnly, 0.99), percentile(whileLong, 0.99), ttft,
                decodeSum / decodeCount, (int) decodeCount, mixedSum / mixedCount, (int) mixedCount);
    }

    static double delta(Map<String, Double> from, Map<String, Double> to, String series) {
        return to.getOrDefault(series, 0.0) - from.getOrDefault(series, 0.0);
    }

    /** The context of the model {@code --model} names: a checkpoint's max_position_embeddings, or a builtin's. */
    static int contextOf(CliFlags flags) {
        String model = flags.string("model", "builtin:tiny-axk1-8k");
        return model.startsWith("builtin:") ? CausalLm.builtin(model.substring("builtin:".length())).config().maxPositionEmbeddings()
                : ModelConfig.read(Path.of(model, "config.json")).maxPositionEmbeddings();
    }

    // ---- sequences held at a fixed KV cache ----

    static void capacity(CliFlags flags) throws Exception {
        int rounds = flags.integer("rounds", 3), requests = flags.integer("requests", 120);
        String kvTokens = flags.string("kv-cache-tokens", "16384");
        String model = flags.string("model", "builtin:tiny-axk1"); // the jar before paging knows no tiny-axk1-8k
        String[] jars = flags.string("jars", ownJar()).split(",");
        String[] names = flags.string("names", "before,after").split(",");
        Map<String, String> env = Map.of(ShardSetting.KV_CACHE_TOKENS.env(), kvTokens, ShardSetting.MAX_BATCH.env(), "256");
        Map<String, List<Double>> meanBatch = new HashMap<>(), seconds = new HashMap<>(), preemptions = new HashMap<>();
        // ShareGPT-like lengths: prompts 32..500 (mean ~240, so that prompt + max_tokens fits tiny-axk1's 1024), outputs 16..400 (mean ~130) under max_tokens 512; the client
        // closes a stream at its output length, as an end-of-sequence token would end it
        SplittableRandom random = new SplittableRandom(3);
        List<int[]> prompts = new ArrayList<>();
        List<Integer> outputs = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            prompts.add(tokens(random, (int) Math.min(500, 32 + Math.round(-220 * Math.log(1 - random.nextDouble())))));
            outputs.add((int) Math.min(400, 16 + Math.round(-115 * Math.log(1 - random.nextDouble()))));
        }
        for (int r = 0; r < rounds; r++) {
            for (int j = 0; j < jars.length; j++) {
                try (LocalGroup shard = start(flags, model, jars[j], env)) {
                    int port = shard.httpPort(0);
                    stream(port, tokens(random, 200), 8, 0);
                    Map<String, Double> before = scrape(port);
                    long t0 = System.nanoTime();
                    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                        List<Future<Timing>> done = new ArrayList<>();
                        for (int i = 0; i < requests; i++) {
                            int[] p = prompts.get(i);
                            int out = outputs.get(i);
                            done.add(pool.submit(() -> stream(port, p, 512, out)));
                        }
                        for (Future<Timing> f : done) f.get();
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    Map<String, Double> after = scrape(port);
                    double steps = after.get("nuri_engine_batch_size_count") - before.get("nuri_engine_batch_size_count");
                    double sum = after.get("nuri_engine_batch_size_sum") - before.get("nuri_engine_batch_size_sum");
                    meanBatch.computeIfAbsent(names[j], k -> new ArrayList<>()).add(sum / steps);
                    seconds.computeIfAbsent(names[j], k -> new ArrayList<>()).add(s);
                    preemptions.computeIfAbsent(names[j], k -> new ArrayList<>()).add(after.getOrDefault("nuri_num_preemptions_total", 0.0)
                            - before.getOrDefault("nuri_num_preemptions_total", 0.0));
                }
            }
        }
        System.out.printf("%n| %d requests at once, KV cache %s tokens, max_tokens 512 | sequences per step (min / median / max) | wall time s (min / median / max) | preemptions (median) |%n|---|---|---|---|%n",
                requests, kvTokens);
        for (String n : names) {
            System.out.printf("| %s | %s | %s | %.0f |%n", n, stats(meanBatch.get(n), 1), stats(seconds.get(n), 1), median(preemptions.get(n)));
        }
    }

    // ---- plumbing ----

    static LocalGroup start(CliFlags flags, String classpath, Map<String, String> env) throws Exception {
        return start(flags, flags.string("model", "builtin:tiny-axk1-8k"), classpath, env);
    }

    static LocalGroup start(CliFlags flags, String model, String classpath, Map<String, String> env) throws Exception {
        Map<String, String> all = new HashMap<>(env);
        Path logs = Files.createDirectories(Path.of(flags.string("logs", "target/bench-logs")));
        if (model.startsWith("builtin:")) {
            all.put(ShardSetting.TOKENIZER.env(), "tiny-axk1");
        } else if (!Files.exists(Path.of(model, "tokenizer.json"))) { // a random checkpoint (kernels/bench/make_checkpoint.py)
            all.put(ShardSetting.TOKENIZER.env(), idTokenizer(logs, ModelConfig.read(Path.of(model, "config.json")).vocabSize()).toString());
        }
        LocalGroup g = LocalGroup.start(new LocalGroup.Spec(1, model, 0, 0, classpath,
                flags.string("heap", "2g"), all, logs));
        g.awaitReady(Duration.ofMinutes(2));
        return g;
    }

    /**
     * A tokenizer for a checkpoint that ships none: every id of the vocabulary is a word of its own ("t17"), so that
     * token-id prompts and the generated ids are valid and decodable. The benchmarks send ids, never text.
     */
    static Path idTokenizer(Path under, int vocab) throws Exception {
        Path dir = Files.createDirectories(under.resolve("id-tokenizer-" + vocab));
        JsonObject words = new JsonObject();
        for (int id = 0; id < vocab; id++) words.put("t" + id, id);
        JsonObject json = new JsonObject().put("version", "1.0").putNull("truncation").putNull("padding").put("added_tokens", new JsonArray())
                .putNull("normalizer").put("pre_tokenizer", new JsonObject().put("type", "WhitespaceSplit")).putNull("post_processor")
                .putNull("decoder").put("model", new JsonObject().put("type", "WordLevel").put("vocab", words).put("unk_token", "t0"));
        Files.writeString(dir.resolve("tokenizer.json"), json.encode());
        return dir;
    }

    static String ownJar() throws Exception {
        return Path.of(WorkerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    /** When each streamed token arrived. */
    record Timing(long startNanos, List<Long> tokenNanos) {
        double ttft() {
            return (tokenNanos.getFirst() - startNanos) / 1e9;
        }
    }

    static Timing streamUnchecked(int port, int[] prompt, int maxTokens, AtomicBoolean stop, CountDownLatch decoding) {
        try {
            return stream(port, prompt, maxTokens, 0, stop, decoding);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Timing stream(int port, int[] prompt, int maxTokens, int closeAfter) throws Exception {
        return stream(port, prompt, maxTokens, closeAfter, new AtomicBoolean(), new CountDownLatch(1));
    }

    /**
     * A streamed completion of token ids; closed after {@code closeAfter} tokens (0: at its end) or once stop is set.
     * {@code decoding} is counted down at the second token (the first decoded one).
     */
    static Timing stream(int port, int[] prompt, int maxTokens, int closeAfter, AtomicBoolean stop, CountDownLatch decoding) throws Exception {
        JsonObject body = new JsonObject().put("prompt", new JsonArray(Arrays.stream(prompt).boxed().toList())).put("max_tokens", maxTokens)
                .put("temperature", 0).put("ignore_eos", true).put("stream", true);
        long t0 = System.nanoTime();
        HttpResponse<java.io.InputStream> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) throw new IllegalStateException("status " + r.statusCode() + ": " + new String(r.body().readAllBytes()));
        List<Long> times = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                times.add(System.nanoTime());
                if (times.size() == 2) decoding.countDown();
                if ((closeAfter > 0 && times.size() >= closeAfter) || stop.get()) break; // closing the body cancels the generation
            }
        }
        return new Timing(t0, times);
    }

    static Map<String, Double> scrape(int port) throws Exception {
        return scrape(URI.create("http://127.0.0.1:" + port));
    }

    /**
     * The nuri_ series of a shard's /metrics, summed over their labels. Asked up to three times: on a machine at load
     * average 30 a busy shard's event loop answered a scrape too late once.
     */
    static Map<String, Double> scrape(URI shard) throws Exception {
        String text = null;
        for (int attempt = 1; text == null; attempt++) {
            try {
                text = CLIENT.send(HttpRequest.newBuilder(shard.resolve("/metrics")).timeout(Duration.ofSeconds(30)).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
            } catch (java.net.http.HttpTimeoutException e) {
                if (attempt == 3) throw e;
            }
        }
        Map<String, Double> values = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("#") || !line.startsWith("nuri_")) continue;
            String name = line.substring(0, line.indexOf('{') > 0 ? line.indexOf('{') : line.indexOf(' '));
            values.merge(name, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)), Double::sum);
        }
        return values;
    }

    static int[] tokens(SplittableRandom random, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = random.nextInt(VOCAB_FROM, VOCAB_TO);
        return t;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static double percentile(List<Double> xs, double q) {
        if (xs.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.floor(q * s.size())));
    }

    static double median(List<Double> xs) {
        return percentile(xs, 0.5);
    }

    static String stats(List<Double> xs, double scale) {
        return String.format("%.1f / %.1f / %.1f", Collections.min(xs) * scale, median(xs) * scale, Collections.max(xs) * scale);
    }

    static void row(String name, List<Double> xs, double scale) {
        System.out.printf("| %s | %.1f | %.1f | %.1f |%n", name, Collections.min(xs) * scale, median(xs) * scale, Collections.max(xs) * scale);
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
