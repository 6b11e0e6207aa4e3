package dev.nuri.worker.batch;

import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs a batch input file's requests against a {@link ModelEndpoint}, a few at a time, appending each result to the
 * output file (2xx answers) or the error file (the rest) as one JSONL line in OpenAI's shape:
 * {@code {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}}.
 *
 * <p>Resumable: the output files are the record of what is done. A run first cuts a line left half-written by a
 * killed process, then skips every custom_id already answered; a request in flight at the kill is sent again. A line
 * is written whole in one write, so a process killed (SIGKILL) between two writes loses nothing written (the page
 * cache keeps it); a machine crash may (nothing is fsynced per line).
 */
public final class BatchRunner {
    /** What has been answered so far, of {@code total} requests. */
    public record Counts(int total, int completed, int failed) {}

    private final Path input;
    private final String endpoint;
    private final Path output;
    private final Path errors;
    private final TeacherOutput teacher;
    private final ModelEndpoint model;
    private final int concurrency;
    private final Semaphore slots;

    private BufferedReader reader;
    private int lineNumber;
    private Set<String> done;
    private int total, completed, failed;
    private Writer outputWriter, errorWriter;

    /**
     * @param endpoint the batch's endpoint, or null: each line's own url (run-batch)
     * @param errors where non-2xx results go; the output file itself for vLLM's run-batch shape
     * @param teacher top-k log-probabilities to record beside the output, or null
     * @param slots requests in flight across every batch of the process (the Batch API), or null
     */
    public BatchRunner(Path input, String endpoint, Path output, Path errors, TeacherOutput teacher, ModelEndpoint model, int concurrency,
                       Semaphore slots) {
        this.input = input;
        this.endpoint = endpoint;
        this.output = output;
        this.errors = errors;
        this.teacher = teacher;
        this.model = model;
        this.concurrency = concurrency;
        this.slots = slots;
    }

    /** What the output files already hold (after cutting a half-written last line): the counts a restart resumes from. */
    public synchronized Counts resume() throws IOException, BatchInput.BadLine {
        total = BatchInput.check(input, endpoint);
        done = new HashSet<>();
        completed = failed = 0;
        for (Path p : output.equals(errors) ? List.of(output) : List.of(output, errors)) {
            cutPartialLine(p);
            for (String line : Files.readAllLines(p)) {
                if (line.isBlank()) continue;
                JsonObject o = new JsonObject(line);
                if (!done.add(o.getString("custom_id"))) continue;
                if (succeeded(o)) completed++;
                else failed++;
            }
        }
        if (teacher != null) teacher.recover();
        return new Counts(total, completed, failed);
    }

    /** The counts so far; null before {@link #resume} has read the output files. */
    public synchronized Counts counts() {
        return done == null ? null : new Counts(total, completed, failed);
    }

    private static boolean succeeded(JsonObject line) {
        JsonObject response = line.getJsonObject("response");
        return line.getValue("error") == null && response != null && response.getInteger("status_code", 0) / 100 == 2;
    }

    /** A process killed inside a write leaves a line without its newline: drop it (it is sent again). */
    static void cutPartialLine(Path p) throws IOException {
        if (!Files.exists(p)) {
            Files.createDirectories(p.toAbsolutePath().getParent());
            Files.createFile(p);
            return;
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size(), keep = size;
            var one = java.nio.ByteBuffer.allocate(1);
            while (keep > 0) {
                one.clear();
                ch.read(one, keep - 1);
                if (one.get(0) == '\n') break;
                keep--;
            }
            if (keep < size) ch.truncate(keep);
        }
    }

    /**
     * Sends every request not answered yet and returns the final counts. Returns early, with what was answered, when
     * {@code stop} turns true (requests in flight still finish and are written).
     */
    public Counts run(BooleanSupplier stop, Consumer<Counts> progress) throws IOException, InterruptedException, BatchInput.BadLine {
        resume();
        reader = Files.newBufferedReader(input, StandardCharsets.UTF_8);
        lineNumber = 0;
        outputWriter = Files.newBufferedWriter(output, StandardOpenOption.APPEND);
        errorWriter = output.equals(errors) ? outputWriter : Files.newBufferedWriter(errors, StandardOpenOption.APPEND);
        List<Thread> senders = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        try {
            for (int i = 0; i < concurrency; i++) {
                senders.add(Thread.ofVirtual().name("nuri-batch-sender").start(() -> {
                    try {
                        for (BatchInput.Request r; !stop.getAsBoolean() && (r = next()) != null; ) send(r, stop, progress);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (IOException | RuntimeException e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread t : senders) t.join();
        } finally {
            for (Thread t : senders) t.interrupt();
            reader.close();
            outputWriter.close();
            if (errorWriter != outputWriter) errorWriter.close();
        }
        if (!failures.isEmpty()) {
            Throwable f = failures.getFirst();
            if (f instanceof IOException io) throw io;
            throw new UncheckedIOException(new IOException("batch sender failed: " + f, f));
        }
        return counts();
    }

    /**
     * Writes an error line with {@code code} for every request not answered yet (a batch that expired), once: a
     * request already in the output files is skipped, so a repeat after a kill writes nothing twice.
     */
    public synchronized Counts failUnanswered(String code, String message) throws IOException, BatchInput.BadLine {
        resume();
        try (BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8);
             Writer w = Files.newBufferedWriter(errors, StandardOpenOption.APPEND)) {
            int number = 0;
            for (String text; (text = in.readLine()) != null; ) {
                number++;
                if (text.isBlank()) continue;
                String customId = BatchInput.parse(number, text, endpoint).customId();
                if (!done.add(customId)) continue;
                JsonObject line = new JsonObject().put("id", "batch_req_" + UUID.randomUUID().toString().replace("-", ""))
                        .put("custom_id", customId).putNull("response").put("error", new JsonObject().put("code", code).put("message", message));
                w.write(line.encode() + "\n");
                w.flush();
                failed++;
            }
        }
        return counts();
    }

    /** The next request not answered yet, in file order; null at the end. */
    private synchronized BatchInput.Request next() throws IOException {
        for (String text; (text = reader.readLine()) != null; ) {
            lineNumber++;
            if (text.isBlank()) continue;
            BatchInput.Request r = BatchInput.parse(lineNumber, text, endpoint);
            if (!done.contains(r.customId())) return r;
        }
        return null;
    }

    private void send(BatchInput.Request r, BooleanSupplier stop, Consumer<Counts> progress) throws InterruptedException, IOException {
        JsonObject body = teacher == null ? r.body() : teacher.ask(r.url(), r.body());
        String requestId = "batch_req_" + UUID.randomUUID().toString().replace("-", "");
        ModelEndpoint.Answer answer;
        if (slots != null) slots.acquire();
        try {
            answer = model.send(r.url(), body, requestId, stop);
        } finally {
            if (slots != null) slots.release();
        }
        if (answer == null) return; // stopped before an answer came: the request stays unanswered
        boolean ok = answer.status() / 100 == 2;
        JsonObject line = new JsonObject().put("id", requestId).put("custom_id", r.customId());
        if (answer.status() == 0) {
            line.putNull("response").put("error", errorOf(answer.body()));
        } else {
            line.put("response", new JsonObject().put("status_code", answer.status()).put("request_id", requestId).put("body", answer.body()))
                    .put("error", ok ? null : errorOf(answer.body()));
        }
        Counts now;
        synchronized (this) {
            if (ok && teacher != null) teacher.append(r.customId(), r.url(), answer.body());
            Writer w = ok ? outputWriter : errorWriter;
            w.write(line.encode() + "\n"); // one write per line: a kill leaves at most this line half-written
            w.flush();
            done.add(r.customId());
            if (ok) completed++;
            else failed++;
            now = new Counts(total, completed, failed);
        }
        progress.accept(now);
    }

    /** OpenAI's per-line error: {@code {code, message}} from the answer's error object. */
    private static JsonObject errorOf(JsonObject body) {
        JsonObject e = body.getJsonObject("error");
        if (e == null) return new JsonObject().put("code", "unknown_error").put("message", body.encode());
        return new JsonObject().put("code", e.getValue("code") == null ? e.getString("type") : e.getValue("code"))
                .put("message", e.getString("message"));
    }
}
