package dev.nuri.worker.bench;

import dev.nuri.worker.WorkerMain;
import dev.nuri.worker.group.LocalGroup;
import dev.nuri.contract.ShardSetting;
import dev.nuri.worker.CliFlags;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * End-to-end throughput of a local group: for each shard count and client concurrency, streaming completions spread
 * over the shards; reports output tokens/s, TTFT, and the share of engine time spent in expert dispatch + combine
 * (from each shard's /metrics). Not a test: run it with runtime-image/bench/run.sh.
 */
public final class BenchMain {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(60))
            .executor(Executors.newVirtualThreadPerTaskExecutor()).build();

    private BenchMain() {}

    public static void main(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        int[] shardCounts = ints(flags.string("shards", "1,2,4"));
        int[] concurrencies = ints(flags.string("concurrency", "1,16,64"));
        int maxTokens = flags.integer("max-tokens", 32);
        int promptWords = flags.integer("prompt-words", 24);
        String model = flags.string("model", "builtin:tiny-axk1");
        String wire = flags.string("wire-dtype", "bf16");
        String ownJar = Path.of(WorkerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        // builds to compare, alternating within each round (the machine is shared: same minutes, same noise)
        String[] jars = flags.string("jars", ownJar).split(",");
        String[] names = flags.string("names", jars.length == 1 ? "this" : "before,after").split(",");
        if (names.length != jars.length) throw new IllegalArgumentException("--names needs one name per --jars entry");
        Path logs = Files.createDirectories(Path.of(flags.string("logs", "target/bench-logs")));
        int[] overlaps = ints(flags.string("two-batch-overlap", "0"));
        boolean pin = Boolean.parseBoolean(flags.string("pin-cores", "false"));
        int rounds = flags.integer("rounds", 1);
        System.out.printf("model %s, wire %s, max_tokens %d, prompt ~%d words, %d cores%s, load average %.1f%n", model, wire, maxTokens,
                promptWords, Runtime.getRuntime().availableProcessors(), pin ? ", shard i pinned to core i (taskset)" : "", loadAverage());
        System.out.println("| build | shards | two-batch overlap from | concurrency | requests | output tok/s | vs 1st row | TTFT p50 ms | TTFT p90 ms | ITL p50 ms | ITL p99 ms | mean batch/shard | overlapped steps | dispatch+combine share | of which transport | MoE round trip µs |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        double[] base = new double[concurrencies.length];
        for (int round = 0; round < rounds; round++) {
            for (int shards : shardCounts) {
                // every other round in reverse order (ABBA), builds and overlap settings: a load that grows or falls over
                // the run favours neither side
                boolean reverse = round % 2 == 1;
                for (int o = 0; o < overlaps.length; o++) for (int turn = 0; turn < jars.length; turn++) {
                    int overlap = overlaps[reverse ? overlaps.length - 1 - o : o];
                    if (shards == 1 && overlap != overlaps[0]) continue; // one shard never overlaps
                    int j = reverse ? jars.length - 1 - turn : turn;
                    String jar = jars[j];
                    Map<String, String> env = Map.of(ShardSetting.WIRE_DTYPE.env(), wire, ShardSetting.MAX_BATCH.env(), "512",
                            ShardSetting.TWO_BATCH_OVERLAP_MIN_TOKENS.env(), Integer.toString(overlap));
                    try (LocalGroup group = LocalGroup.start(new LocalGroup.Spec(shards, model, 0, 0, jar, flags.string("heap", "1g"),
                            env, logs), pin)) {
                        group.awaitReady(Duration.ofMinutes(5));
                        run(group, 2 * shards, maxTokens, promptWords); // warm-up: JIT and connections
                        for (int c = 0; c < concurrencies.length; c++) {
                            int concurrency = concurrencies[c];
                            int requests = Math.max(2 * concurrency, 8);
                            Scrape before = Scrape.of(group);
                            Result r = run(group, concurrency, maxTokens, promptWords, requests);
                            Scrape delta = Scrape.of(group).minus(before);
                            if (base[c] == 0) base[c] = r.tokensPerSecond();
                            System.out.printf("| %s | %d | %s | %d | %d | %.0f | %.2f | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% | %s | %s | %s |%n",
                                    names[j], shards, overlap == 0 ? "off" : Integer.toString(overlap), concurrency, requests,
                                    r.tokensPerSecond(), r.tokensPerSecond() / base[c], r.ttftP(0.5) * 1e3, r.ttftP(0.9) * 1e3,
                                    Result.percentile(r.itls(), 0.5) * 1e3, Result.percentile(r.itls(), 0.99) * 1e3,
                                    delta.meanBatch(), delta.steps == 0 ? 0 : 100 * delta.overlappedSteps / delta.steps,
                                    shards == 1 ? "n/a" : String.format("%.1f%%", 100 * delta.moeShare()),
                                    shards == 1 ? "n/a" : String.format("%.1f%%", 100 * delta.transportShare()),
                                    shards == 1 ? "n/a" : String.format("%.0f", 1e6 * delta.roundTrip()));
                        }
                    }
                }
            }
            System.out.printf("round %d done, load average %.1f%n", round + 1, loadAverage());
        }
    }

    /** The 1-minute load average (other processes share these cores). */
    private static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    /** @param itls seconds between consecutive streamed chunks of one request (inter-token latency, as the client sees it) */
    record Result(long tokens, double seconds, double[] ttfts, double[] itls) {
        double tokensPerSecond() {
            return tokens / seconds;
        }

        double ttftP(double q) {
            return percentile(ttfts, q);
        }

        static double percentile(double[] values, double q) {
            double[] s = values.clone();
            Arrays.sort(s);
            return s.length == 0 ? Double.NaN : s[Math.min(s.length - 1, (int) Math.floor(q * s.length))];
        }
    }

    private static Result run(LocalGroup group, int concurrency, int maxTokens, int promptWords) throws Exception {
        return run(group, concurrency, maxTokens, promptWords, concurrency);
    }

    private static Result run(LocalGroup group, int concurrency, int maxTokens, int promptWords, int requests) throws Exception {
        AtomicInteger next = new AtomicInteger();
        long start = System.nanoTime();
        List<Future<long[]>> workers = new ArrayList<>();
        List<Double> ttfts = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Double> itls = java.util.Collections.synchronizedList(new ArrayList<>());
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int w = 0; w < concurrency; w++) {
                workers.add(pool.submit(() -> {
                    long tokens = 0;
                    for (int i; (i = next.getAndIncrement()) < requests; ) {
                        long[] one = oneRequest(group.httpPort(i % group.shards()), i, maxTokens, promptWords, ttfts, itls);
                        tokens += one[0];
                    }
                    return new long[] {tokens};
                }));
            }
            long tokens = 0;
            for (Future<long[]> f : workers) tokens += f.get()[0];
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Result(tokens, seconds, ttfts.stream().mapToDouble(Double::doubleValue).toArray(),
                    itls.stream().mapToDouble(Double::doubleValue).toArray());
        }
    }

    private static long[] oneRequest(int port, int i, int maxTokens, int promptWords, List<Double> ttfts, List<Double> itls)
            throws Exception {
        StringBuilder prompt = new StringBuilder();
        for (int w = 0; w < promptWords; w++) prompt.append(w % 3 == 0 ? "전문가 " : "token ").append(i + w).append(' ');
        JsonObject body = new JsonObject().put("prompt", prompt.toString()).put("max_tokens", maxTokens).put("temperature", 0.7)
                .put("seed", i).put("ignore_eos", true).put("stream", true).put("stream_options", new JsonObject().put("include_usage", true));
        long t0 = System.nanoTime();
        HttpResponse<java.io.InputStream> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) throw new IllegalStateException("status " + r.statusCode());
        long completion = 0;
        long last = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                JsonObject chunk = new JsonObject(line.substring(6));
                if (chunk.getJsonObject("usage") != null) {
                    completion = chunk.getJsonObject("usage").getInteger("completion_tokens");
                    continue; // the usage chunk follows the last token's at once: not a gap between tokens
                }
                long now = System.nanoTime();
                if (last == 0) ttfts.add((now - t0) / 1e9);
                else itls.add((now - last) / 1e9);
                last = now;
            }
        }
        return new long[] {completion};
    }

    /** Sums of the engine and MoE timers over all shards of the group. */
    record Scrape(double stepSeconds, double prefillSeconds, double dispatchSeconds, double combineSeconds, double batchSum,
                  double steps, double peerComputeSeconds, double moeCalls, double overlappedSteps) {
        static Scrape of(LocalGroup group) throws Exception {
            double[] v = new double[9];
            for (int s = 0; s < group.shards(); s++) {
                String text = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + group.httpPort(s) + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                v[0] += value(text, "nuri_engine_decode_step_seconds_sum");
                v[1] += value(text, "nuri_engine_prefill_seconds_sum");
                v[2] += value(text, "nuri_moe_dispatch_seconds_sum");
                v[3] += value(text, "nuri_moe_combine_seconds_sum");
                v[4] += value(text, "nuri_engine_batch_size_sum");
                v[5] += value(text, "nuri_engine_batch_size_count");
                v[6] += value(text, "nuri_moe_expert_compute_seconds_sum", "tokens_from=\"peer\"");
                v[7] += value(text, "nuri_moe_dispatch_seconds_count");
                v[8] += value(text, "nuri_engine_two_batch_overlap_steps_total");
            }
            return new Scrape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
        }

        private static double value(String text, String name) {
            return value(text, name, "");
        }

        private static double value(String text, String name, String labels) {
            for (String line : text.split("\n")) {
                if ((line.startsWith(name + "{") || line.startsWith(name + " ")) && line.contains(labels)) {
                    return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return 0;
        }

        Scrape minus(Scrape o) {
            return new Scrape(stepSeconds - o.stepSeconds, prefillSeconds - o.prefillSeconds, dispatchSeconds - o.dispatchSeconds,
                    combineSeconds - o.combineSeconds, batchSum - o.batchSum, steps - o.steps,
                    peerComputeSeconds - o.peerComputeSeconds, moeCalls - o.moeCalls, overlappedSteps - o.overlappedSteps);
        }

        /** dispatch + combine without the peers' expert compute that the combine wait contains */
        double transportShare() {
            return (dispatchSeconds + combineSeconds - peerComputeSeconds) / (stepSeconds + prefillSeconds);
        }

        double roundTrip() {
            return moeCalls == 0 ? 0 : (dispatchSeconds + combineSeconds) / moeCalls;
        }

        double moeShare() {
            return (dispatchSeconds + combineSeconds) / (stepSeconds + prefillSeconds);
        }

        double meanBatch() {
            return steps == 0 ? 0 : batchSum / steps;
        }
    }
}
