package dev.nuri.worker.batch;

import dev.nuri.worker.CliFlags;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code nuri-worker run-batch -i in.jsonl -o out.jsonl --url http://model:8000}: vLLM's {@code run_batch}, run against
 * a worker's (or a ModelDeployment Service's) OpenAI API at batch priority. Every result (success or error) goes to
 * the output file, as vLLM writes it. Run it again with the same output file after a kill and it carries on where it
 * stopped: answered requests are not sent again, none is lost.
 */
public final class RunBatchMain {
    private RunBatchMain() {}

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) { // vLLM's short flags
            if (args[i].equals("-i")) args[i] = "--input";
            if (args[i].equals("-o")) args[i] = "--output";
        }
        CliFlags flags;
        try {
            flags = CliFlags.parse(args);
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        String in = flags.string("input", null), out = flags.string("output", null);
        if (in == null || out == null) usage("-i (input JSONL) and -o (output JSONL) are required");
        String url = flags.string("url", System.getenv().getOrDefault("NURI_BATCH_URL", "http://127.0.0.1:8000"));
        String key = flags.string("api-key", System.getenv("OPENAI_API_KEY"));
        int concurrency = flags.integer("concurrency", 8);
        int topK = flags.integer("teacher-top-k", 5);
        String teacherOut = flags.string("teacher-out", null);
        Duration retry = Duration.ofSeconds(flags.integer("retry-seconds", 600));
        Path input = Path.of(in), output = Path.of(out);
        if (!Files.isRegularFile(input)) usage("the input file " + input + " does not exist");
        TeacherOutput teacher = null;
        if (teacherOut != null) {
            try {
                teacher = new TeacherOutput(Path.of(teacherOut + ".log"), topK);
            } catch (IllegalArgumentException e) {
                usage(e.getMessage());
            }
        }
        BatchRunner runner = new BatchRunner(input, null, output, output, teacher, new ModelEndpoint(URI.create(url), key, retry),
                concurrency, null);
        BatchRunner.Counts start;
        try {
            start = runner.resume();
        } catch (BatchInput.BadLine e) {
            System.err.println("nuri-worker run-batch: " + input + " " + e.getMessage());
            System.exit(1);
            return;
        }
        System.out.printf("nuri-worker run-batch: %d requests in %s, %d already answered in %s; sending to %s%n", start.total(), input,
                start.completed() + start.failed(), output, url);
        long t0 = System.nanoTime();
        AtomicLong lastLine = new AtomicLong(t0);
        BatchRunner.Counts end = runner.run(() -> false, c -> {
            long now = System.nanoTime();
            long prev = lastLine.get();
            if (now - prev > 5_000_000_000L && lastLine.compareAndSet(prev, now) || c.completed() + c.failed() == c.total()) {
                progress(c, t0);
            }
        });
        if (teacher != null) {
            Set<String> answered = new HashSet<>();
            for (String line : Files.readAllLines(output)) {
                if (!line.isBlank()) answered.add(new io.vertx.core.json.JsonObject(line).getString("custom_id"));
            }
            long positions = teacher.writeSafetensors(Path.of(teacherOut), answered);
            Files.deleteIfExists(Path.of(teacherOut + ".log"));
            System.out.printf("nuri-worker run-batch: teacher top-%d log-probabilities of %d positions in %s%n", topK, positions, teacherOut);
        }
        System.out.printf("nuri-worker run-batch: done, %d succeeded, %d failed, written to %s%n", end.completed(), end.failed(), output);
        System.exit(end.completed() + end.failed() == end.total() ? 0 : 1);
    }

    private static void progress(BatchRunner.Counts c, long t0) {
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("nuri-worker run-batch: %d/%d answered (%d failed), %.1f s%n", c.completed() + c.failed(), c.total(), c.failed(), s);
    }

    private static void usage(String why) {
        System.err.println("nuri-worker run-batch: " + why + """

                usage: nuri-worker run-batch -i in.jsonl -o out.jsonl [--url http://127.0.0.1:8000] [--api-key KEY]
                         [--concurrency 8] [--teacher-out teacher.safetensors [--teacher-top-k 5]] [--retry-seconds 600]""");
        System.exit(2);
    }
}
