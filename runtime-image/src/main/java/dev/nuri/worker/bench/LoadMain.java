package dev.nuri.worker.bench;

import dev.nuri.worker.CliFlags;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An open-loop load driver: requests arrive as a Poisson process at {@code --rate} per second for
 * {@code --duration} seconds, whatever the server's speed (a closed loop would slow down with the
 * server and hide its queue), each a streaming completion with a prompt length and an output length
 * drawn uniformly from their ranges. Prints TTFT and inter-token latency percentiles, throughput,
 * and goodput (requests per second that succeeded within both SLOs); the last line is the same as
 * JSON, for scripts and tests.
 */
public final class LoadMain {

    private static final String[] WORDS = ("the expert parallel group answered every request with tokens from its shards while "
            + "the router chose eight experts per token and the attention kept its cache").split(" ");

    /**
     * What one request saw. ttftMillis < 0 when no token came. refused: not served but told when to come back (429 or
     * 503 with Retry-After), which an overloaded server may do; any other failure is a lost request.
     */
    record Outcome(boolean ok, String error, double ttftMillis, List<Double> gapsMillis, int tokens, boolean refused) {
        Outcome(boolean ok, String error, double ttftMillis, List<Double> gapsMillis, int tokens) {
            this(ok, error, ttftMillis, gapsMillis, tokens, false);
        }
    }

    private LoadMain() {}

    public static void main(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        String url = flags.string("url", "http://127.0.0.1:8000").replaceAll("/+$", "");
        double rate = Double.parseDouble(flags.string("rate", "2"));
        int duration = flags.integer("duration", 60);
        int[] promptWords = range(flags.string("prompt-words", "8:64"));
        int[] maxTokens = range(flags.string("max-tokens", "16:128"));
        double ttftSlo = Double.parseDouble(flags.string("ttft-slo-ms", "1000"));
        double itlSlo = Double.parseDouble(flags.string("itl-slo-ms", "200"));
        String model = flags.string("model", null);
        String apiKey = flags.string("api-key", null);
        Random random = new Random(flags.integer("seed", 1));
        String samples = flags.string("samples", null); // a file: one line per answered request, its TTFT then its gaps (ms)
        if (rate <= 0 || duration <= 0) throw new IllegalArgumentException("--rate and --duration must be positive");

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
        AtomicInteger sent = new AtomicInteger();
        System.out.printf(Locale.ROOT, "open loop: %.2f req/s for %d s against %s; prompt %d..%d words, output %d..%d tokens%n",
                rate, duration, url, promptWords[0], promptWords[1], maxTokens[0], maxTokens[1]);
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(duration);
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            long next = start;
            while (true) {
                next += (long) (-Math.log(1 - random.nextDouble()) / rate * 1e9); // exponential gaps: Poisson arrivals
                if (next >= end) break;
                long wait = next - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                JsonObject body = new JsonObject().put("prompt", prompt(random, between(random, promptWords)))
                        .put("max_tokens", between(random, maxTokens)).put("ignore_eos", true).put("stream", true);
                if (model != null) body.put("model", model);
                sent.incrementAndGet();
                clients.submit(() -> outcomes.add(request(http, url, apiKey, body)));
            }
        } // waits for the requests in flight
        double seconds = (System.nanoTime() - start) / 1e9;
        if (samples != null) {
            StringBuilder b = new StringBuilder();
            for (Outcome o : outcomes) {
                if (!o.ok()) continue;
                b.append(String.format(Locale.ROOT, "%.3f", o.ttftMillis()));
                for (double g : o.gapsMillis()) b.append(String.format(Locale.ROOT, " %.3f", g));
                b.append('\n');
            }
            java.nio.file.Files.writeString(java.nio.file.Path.of(samples), b);
        }
        report(new ArrayList<>(outcomes), sent.get(), seconds, ttftSlo, itlSlo);
    }

    static Outcome request(HttpClient http, String url, String apiKey, JsonObject body) {
        long t0 = System.nanoTime();
        try {
            HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofMinutes(10))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode()));
            if (apiKey != null) r.header("Authorization", "Bearer " + apiKey);
            HttpResponse<java.io.InputStream> response = http.send(r.build(), HttpResponse.BodyHandlers.ofInputStream());
            if (response.statusCode() != 200) {
                String text = new String(response.body().readAllBytes(), StandardCharsets.UTF_8);
                boolean refused = (response.statusCode() == 429 || response.statusCode() == 503)
                        && response.headers().firstValue("Retry-After").isPresent();
                return new Outcome(false, "HTTP " + response.statusCode() + ": " + text.strip(), -1, List.of(), 0, refused);
            }
            double ttft = -1;
            long last = 0;
            List<Double> gaps = new ArrayList<>();
            int tokens = 0;
            boolean done = false;
            String error = null;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data: ")) continue;
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        break;
                    }
                    JsonObject chunk = new JsonObject(data);
                    if (chunk.containsKey("error")) {
                        error = chunk.getJsonObject("error").getString("message");
                        break;
                    }
                    long now = System.nanoTime();
                    if (tokens == 0) ttft = (now - t0) / 1e6;
                    else gaps.add((now - last) / 1e6);
                    last = now;
                    tokens++;
                }
            }
            if (error != null || !done) {
                return new Outcome(false, error != null ? error : "stream ended without [DONE]", ttft, gaps, tokens);
            }
            return new Outcome(true, null, ttft, gaps, tokens);
        } catch (Exception e) {
            return new Outcome(false, e.toString(), -1, List.of(), 0);
        }
    }

    static void report(List<Outcome> outcomes, int sent, double seconds, double ttftSlo, double itlSlo) {
        List<Outcome> ok = outcomes.stream().filter(Outcome::ok).toList();
        List<Double> ttft = new ArrayList<>(ok.stream().map(Outcome::ttftMillis).toList());
        List<Double> itl = new ArrayList<>(ok.stream().flatMap(o -> o.gapsMillis().stream()).toList());
        long good = ok.stream().filter(o -> o.ttftMillis() <= ttftSlo && percentile(new ArrayList<>(o.gapsMillis()), 0.9) <= itlSlo).count();
        long tokens = ok.stream().mapToLong(Outcome::tokens).sum();
        int failed = outcomes.size() - ok.size();
        long refused = outcomes.stream().filter(Outcome::refused).count();
        // sent but never ended (cannot happen while the driver waits for every request; counted to be sure)
        long lost = failed - refused + (sent - outcomes.size());
        System.out.printf(Locale.ROOT, "requests: %d sent, %d ok, %d failed (%d refused with Retry-After, %d lost) in %.1f s%n",
                sent, ok.size(), failed, refused, lost, seconds);
        System.out.printf(Locale.ROOT, "TTFT ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f%n", percentile(ttft, 0.5), percentile(ttft, 0.9),
                percentile(ttft, 0.99), percentile(ttft, 1.0));
        System.out.printf(Locale.ROOT, "ITL ms:  p50 %.1f  p90 %.1f  p99 %.1f%n", percentile(itl, 0.5), percentile(itl, 0.9), percentile(itl, 0.99));
        System.out.printf(Locale.ROOT, "output: %.1f tokens/s; goodput (TTFT <= %.0f ms, p90 ITL <= %.0f ms): %.2f req/s (%d of %d)%n",
                tokens / seconds, ttftSlo, itlSlo, good / seconds, good, sent);
        outcomes.stream().filter(o -> !o.ok() && !o.refused()).limit(3).forEach(o -> System.out.println("lost: " + o.error()));
        outcomes.stream().filter(Outcome::refused).limit(1).forEach(o -> System.out.println("refused: " + o.error()));
        System.out.println(new JsonObject().put("sent", sent).put("ok", ok.size()).put("failed", failed).put("refused", refused)
                .put("lost", lost).put("seconds", seconds)
                .put("ttft_p50_ms", percentile(ttft, 0.5)).put("ttft_p90_ms", percentile(ttft, 0.9))
                .put("ttft_p99_ms", percentile(ttft, 0.99)).put("ttft_max_ms", percentile(ttft, 1.0))
                .put("itl_p50_ms", percentile(itl, 0.5)).put("itl_p90_ms", percentile(itl, 0.9))
                .put("tokens_per_s", tokens / seconds).put("goodput_rps", good / seconds).encode());
    }

    /** Nearest-rank percentile; NaN for no values. */
    static double percentile(List<Double> values, double q) {
        if (values.isEmpty()) return Double.NaN;
        Collections.sort(values);
        int rank = (int) Math.ceil(q * values.size()) - 1;
        return values.get(Math.max(0, Math.min(values.size() - 1, rank)));
    }

    static String prompt(Random random, int words) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < words; i++) b.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        return b.toString();
    }

    private static int[] range(String s) {
        String[] parts = s.split(":");
        int lo = Integer.parseInt(parts[0]);
        int hi = parts.length > 1 ? Integer.parseInt(parts[1]) : lo;
        if (lo < 1 || hi < lo) throw new IllegalArgumentException("a range is MIN:MAX with 1 <= MIN <= MAX, got " + s);
        return new int[] {lo, hi};
    }

    private static int between(Random random, int[] range) {
        return range[0] + random.nextInt(range[1] - range[0] + 1);
    }
}
