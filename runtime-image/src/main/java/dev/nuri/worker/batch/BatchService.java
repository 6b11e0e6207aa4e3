package dev.nuri.worker.batch;

import dev.nuri.worker.api.ApiException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * OpenAI's Files and Batch APIs over one directory ({@code NURI_BATCH_DIR}): uploaded files, each batch's state and
 * its output as it is written. A batch runs its requests against this shard's own HTTP port at batch priority
 * ({@link BatchRunner}); after a restart every batch that was running resumes from its output files.
 *
 * <p>Layout: {@code files/<id>.json} (the file object) + {@code files/<id>.data}; {@code batches/<id>.json} (the batch
 * object, rewritten whole on each change) + {@code batches/<id>/output.jsonl, errors.jsonl, teacher.log}. One process
 * owns a directory at a time (a lock file): a second one refuses the Batch API instead of running the same batches twice.
 *
 * <p>Ownership: with API keys, every file and batch belongs to the name of the key that created it (a batch's output
 * files to the batch's), and to any other key it does not exist (404, as OpenAI answers for another project's). Each
 * method takes the caller's key name as {@code owner}, null when the server has no keys (everything is everyone's).
 * The owner is kept in the stored object under {@link #OWNER} and never shown.
 */
public final class BatchService implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BatchService.class.getName());
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,128}");
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    private static final String OWNER = "nuri_owner";

    /**
     * @param dir where files and batches live
     * @param maxFileBytes larger uploads get 413
     * @param concurrency requests of all batches in flight at once (the engine adds its own cap on batch work)
     * @param window how long after its creation a batch expires (OpenAI's 24 h completion window)
     */
    public record Settings(Path dir, long maxFileBytes, int concurrency, Duration window) {}

    private final Settings settings;
    private final Path files, batches;
    private final ModelEndpoint model;
    private final Semaphore slots;
    private final FileChannel lockChannel;
    private final String unusable;
    private final Map<String, Run> runs = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** A batch being run: its runner (for live counts), its cancel flag and when it expires. */
    private static final class Run {
        final BatchRunner runner;
        final long expiresAtMillis;
        volatile boolean cancel;
        Thread thread;

        Run(BatchRunner runner, long expiresAtMillis) {
            this.runner = runner;
            this.expiresAtMillis = expiresAtMillis;
        }

        boolean expired() {
            return System.currentTimeMillis() >= expiresAtMillis;
        }
    }

    /** @param self this shard's HTTP API; @param apiKey a key it accepts, or null when it has none */
    public BatchService(Settings settings, URI self, String apiKey) {
        this.settings = settings;
        this.files = settings.dir().resolve("files");
        this.batches = settings.dir().resolve("batches");
        this.model = new ModelEndpoint(self, apiKey, Duration.ofMinutes(10));
        this.slots = new Semaphore(settings.concurrency());
        FileChannel channel = null;
        String why = null;
        try {
            Files.createDirectories(files);
            Files.createDirectories(batches);
            channel = FileChannel.open(settings.dir().resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) why = "the batch directory " + settings.dir() + " is in use by another worker process; give each its own NURI_BATCH_DIR";
        } catch (IOException | OverlappingFileLockException e) {
            why = "the batch directory " + settings.dir() + " cannot be used: " + e.getMessage();
        }
        this.lockChannel = channel;
        this.unusable = why;
        if (why != null) LOG.warning(why + "; the Files and Batch API answer 503");
    }

    /** Resumes every batch that had not ended when the last process stopped. */
    public void resume() {
        if (unusable != null) return;
        for (JsonObject b : batchObjects()) {
            String status = b.getString("status");
            if (List.of("validating", "in_progress", "finalizing", "cancelling").contains(status)) {
                LOG.info("resuming batch " + b.getString("id") + " (" + status + ")");
                start(b);
            }
        }
    }

    private void usable() {
        if (unusable != null) throw ApiException.unavailable(unusable);
        if (closed) throw ApiException.unavailable("the server is shutting down");
    }

    public long maxFileBytes() {
        return settings.maxFileBytes();
    }

    public Path uploads() {
        return settings.dir().resolve("uploads");
    }

    // ---- files

    /** Takes an uploaded file (moved into the store) after checking it as a batch input. */
    public JsonObject createFile(String owner, String filename, String purpose, Path upload) {
        usable();
        if (!"batch".equals(purpose)) {
            throw ApiException.badRequest("purpose", "'purpose' must be \"batch\" (the only purpose this server stores files for)");
        }
        try {
            BatchInput.check(upload, null);
        } catch (BatchInput.BadLine e) {
            throw ApiException.badRequest(e.param() == null ? "file" : "file.line[" + e.line() + "]." + e.param(),
                    "the file is not a valid batch input: " + e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String id = "file-" + randomHex();
        try {
            long bytes = Files.size(upload);
            Files.move(upload, files.resolve(id + ".data"), StandardCopyOption.REPLACE_EXISTING);
            JsonObject file = fileObject(id, bytes, filename == null || filename.isBlank() ? "input.jsonl" : filename, purpose);
            writeJson(files.resolve(id + ".json"), file.copy().put(OWNER, owner));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonObject fileObject(String id, long bytes, String filename, String purpose) {
        return new JsonObject().put("id", id).put("object", "file").put("bytes", bytes).put("created_at", now())
                .put("filename", filename).put("purpose", purpose).put("status", "processed").putNull("expires_at")
                .putNull("status_details");
    }

    public JsonObject listFiles(String owner, String purpose) {
        usable();
        JsonArray data = new JsonArray();
        for (JsonObject f : objects(files)) {
            if (visible(f, owner) && (purpose == null || purpose.equals(f.getString("purpose")))) data.add(shown(f));
        }
        return new JsonObject().put("object", "list").put("data", data).put("has_more", false)
                .put("first_id", data.isEmpty() ? null : data.getJsonObject(0).getString("id"))
                .put("last_id", data.isEmpty() ? null : data.getJsonObject(data.size() - 1).getString("id"));
    }

    public JsonObject file(String owner, String id) {
        usable();
        JsonObject f = ID.matcher(id).matches() ? readJson(files.resolve(id + ".json")) : null;
        if (f == null || !visible(f, owner)) {
            throw new ApiException(404, "invalid_request_error", "file_id", "file_not_found", "No such File object: " + id, null);
        }
        return shown(f);
    }

    public Path fileContent(String owner, String id) {
        file(owner, id);
        return files.resolve(id + ".data");
    }

    public JsonObject deleteFile(String owner, String id) {
        file(owner, id);
        try {
            Files.deleteIfExists(files.resolve(id + ".json")); // first: a file half-deleted is gone, not a file without data
            Files.deleteIfExists(files.resolve(id + ".data"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new JsonObject().put("id", id).put("object", "file").put("deleted", true);
    }

    // ---- batches

    public JsonObject createBatch(String owner, JsonObject body) {
        usable();
        Object input = body.getValue("input_file_id");
        if (!(input instanceof String inputId) || inputId.isEmpty()) {
            throw ApiException.badRequest("input_file_id", "'input_file_id' (the id of a file uploaded with purpose \"batch\") is required");
        }
        Object endpoint = body.getValue("endpoint");
        if (!(endpoint instanceof String ep) || !BatchInput.ENDPOINTS.contains(ep)) {
            throw ApiException.badRequest("endpoint", "'endpoint' must be one of " + BatchInput.ENDPOINTS);
        }
        if (!"24h".equals(body.getValue("completion_window"))) {
            throw ApiException.badRequest("completion_window", "'completion_window' must be \"24h\"");
        }
        Object metadata = body.getValue("metadata");
        if (metadata != null && !(metadata instanceof JsonObject m && m.stream().allMatch(e -> e.getValue() instanceof String))) {
            throw ApiException.badRequest("metadata", "'metadata' must be an object of string values");
        }
        Object k = body.getValue("teacher_top_k");
        if (k != null && !(k instanceof Integer i && i >= 1 && i <= TeacherOutput.MAX_K)) {
            throw ApiException.badRequest("teacher_top_k", "'teacher_top_k' must be an integer 1.." + TeacherOutput.MAX_K);
        }
        Path data = fileContent(owner, inputId);
        int total;
        try {
            total = BatchInput.check(data, ep);
        } catch (BatchInput.BadLine e) {
            throw ApiException.badRequest(e.param() == null ? "input_file_id" : "input_file_id.line[" + e.line() + "]." + e.param(),
                    "the input file " + inputId + " is not valid for this batch: " + e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String id = "batch_" + randomHex();
        long created = now();
        JsonObject b = new JsonObject().put("id", id).put("object", "batch").put("endpoint", ep).putNull("errors")
                .put("input_file_id", inputId).put("completion_window", "24h").put("status", "validating")
                .putNull("output_file_id").putNull("error_file_id").put("created_at", created).putNull("in_progress_at")
                .put("expires_at", created + settings.window().toSeconds()).putNull("finalizing_at").putNull("completed_at").putNull("failed_at")
                .putNull("expired_at").putNull("cancelling_at").putNull("cancelled_at")
                .put("request_counts", counts(new BatchRunner.Counts(total, 0, 0))).put("metadata", metadata)
                .put("teacher_top_k", k).putNull("teacher_file_id").put(OWNER, owner);
        try {
            // the input is copied: deleting the uploaded file must not pull it from under a batch that resumes later
            Files.createDirectories(batches.resolve(id));
            Files.copy(data, batches.resolve(id).resolve("input.jsonl"));
            writeJson(batches.resolve(id + ".json"), b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        start(b);
        return batch(owner, id);
    }

    public JsonObject batch(String owner, String id) {
        usable();
        JsonObject b = ID.matcher(id).matches() ? readJson(batches.resolve(id + ".json")) : null;
        if (b == null || !visible(b, owner)) {
            throw new ApiException(404, "invalid_request_error", "batch_id", "batch_not_found", "No such Batch object: " + id, null);
        }
        b = shown(b);
        Run run = runs.get(id);
        BatchRunner.Counts live = run == null ? null : run.runner.counts();
        if (live != null && List.of("in_progress", "finalizing", "cancelling").contains(b.getString("status"))) {
            b.put("request_counts", counts(live));
        }
        return b;
    }

    /** Newest first, as OpenAI lists them; {@code after} is the last id of the previous page. */
    public JsonObject listBatches(String owner, int limit, String after) {
        usable();
        List<JsonObject> all = new ArrayList<>(batchObjects());
        all.removeIf(b -> !visible(b, owner));
        int from = 0;
        if (after != null) {
            for (int i = 0; i < all.size(); i++) if (all.get(i).getString("id").equals(after)) from = i + 1;
        }
        JsonArray data = new JsonArray();
        for (int i = from; i < Math.min(all.size(), from + limit); i++) data.add(batch(owner, all.get(i).getString("id")));
        return new JsonObject().put("object", "list").put("data", data).put("has_more", from + limit < all.size())
                .put("first_id", data.isEmpty() ? null : data.getJsonObject(0).getString("id"))
                .put("last_id", data.isEmpty() ? null : data.getJsonObject(data.size() - 1).getString("id"));
    }

    public synchronized JsonObject cancel(String owner, String id) {
        JsonObject b = batch(owner, id);
        String status = b.getString("status");
        if (!List.of("validating", "in_progress").contains(status)) {
            if (List.of("cancelling", "cancelled").contains(status)) return b;
            throw new ApiException(409, "invalid_request_error", "batch_id", "batch_not_cancellable",
                    "the batch is " + status + "; only a validating or in_progress batch can be cancelled", null);
        }
        transition(id, stored -> stored.put("status", "cancelling").put("cancelling_at", now()));
        Run run = runs.get(id);
        if (run != null) run.cancel = true;
        return batch(owner, id);
    }

    // ---- running

    private void start(JsonObject b) {
        String id = b.getString("id");
        Path dir = batches.resolve(id);
        Integer k = b.getInteger("teacher_top_k");
        TeacherOutput teacher = k == null ? null : new TeacherOutput(dir.resolve("teacher.log"), k);
        Run run = new Run(new BatchRunner(dir.resolve("input.jsonl"), b.getString("endpoint"), dir.resolve("output.jsonl"),
                dir.resolve("errors.jsonl"), teacher, model, settings.concurrency(), slots), b.getLong("expires_at") * 1000);
        run.cancel = "cancelling".equals(b.getString("status"));
        runs.put(id, run);
        run.thread = Thread.ofVirtual().name("nuri-batch-" + id).start(() -> {
            try {
                execute(id, run, teacher);
            } catch (Throwable e) {
                if (closed) return;
                LOG.log(Level.SEVERE, "batch " + id + " failed", e);
                synchronized (this) {
                    JsonObject now = readJson(batches.resolve(id + ".json"));
                    now.put("status", "failed").put("failed_at", now()).put("errors", new JsonObject().put("object", "list")
                            .put("data", new JsonArray().add(new JsonObject().put("code", "batch_failed").put("message", e.toString())
                                    .putNull("param").putNull("line"))));
                    save(now);
                }
            } finally {
                runs.remove(id, run);
            }
        });
    }

    private void execute(String id, Run run, TeacherOutput teacher) throws Exception {
        transition(id, b -> {
            if ("validating".equals(b.getString("status"))) b.put("status", "in_progress").put("in_progress_at", now());
        });
        if (!"finalizing".equals(readJson(batches.resolve(id + ".json")).getString("status"))) {
            run.runner.run(() -> run.cancel || closed || run.expired(), c -> {});
        }
        if (closed) return; // stopped mid-batch: the next process resumes it
        BatchRunner.Counts answered = run.runner.resume();
        boolean cancelled = run.cancel;
        // as OpenAI's: past expires_at, the requests not answered get a batch_expired line; the answered keep theirs.
        // expired_at is written first, so a process killed while writing those lines expires the batch when it resumes.
        boolean expired = !cancelled && (readJson(batches.resolve(id + ".json")).getValue("expired_at") != null
                || answered.completed() + answered.failed() < answered.total() && run.expired());
        if (expired) transition(id, b -> b.put("expired_at", b.getValue("expired_at") == null ? now() : b.getValue("expired_at")));
        BatchRunner.Counts counts = expired ? run.runner.failUnanswered("batch_expired",
                "This request could not be executed before the completion window expired.") : answered;
        transition(id, b -> {
            if (!cancelled && !expired) b.put("status", "finalizing").put("finalizing_at", now());
            b.put("request_counts", counts(counts));
        });
        Path dir = batches.resolve(id);
        String hex = id.substring("batch_".length());
        String owner = readJson(batches.resolve(id + ".json")).getString(OWNER);
        String output = store(dir.resolve("output.jsonl"), "file-" + hex + "-output", id + "_output.jsonl", owner, true);
        String errors = store(dir.resolve("errors.jsonl"), "file-" + hex + "-errors", id + "_error.jsonl", owner, counts.failed() > 0);
        String teacherFile = null;
        if (teacher != null) {
            java.util.Set<String> succeeded = new java.util.HashSet<>();
            for (String line : Files.readAllLines(dir.resolve("output.jsonl"))) {
                if (!line.isBlank()) succeeded.add(new JsonObject(line).getString("custom_id"));
            }
            Path st = dir.resolve("teacher.safetensors");
            if (!Files.exists(files.resolve("file-" + hex + "-teacher.json"))) teacher.writeSafetensors(st, succeeded);
            teacherFile = store(st, "file-" + hex + "-teacher", id + "_teacher.safetensors", owner, true);
        }
        String teacherId = teacherFile;
        transition(id, b -> {
            b.put("output_file_id", output).put("error_file_id", errors).put("teacher_file_id", teacherId);
            if (cancelled) b.put("status", "cancelled").put("cancelled_at", now());
            else if (expired) b.put("status", "expired");
            else b.put("status", "completed").put("completed_at", now());
        });
        LOG.info("batch " + id + " " + (cancelled ? "cancelled" : expired ? "expired" : "completed") + ": " + counts.completed() + " succeeded, "
                + counts.failed() + " failed of " + counts.total());
    }

    /** Registers a result file in the file store under a fixed id (so a finalize that is repeated after a kill is idempotent). */
    private String store(Path data, String fileId, String filename, String owner, boolean wanted) throws IOException {
        if (!wanted) return null;
        Path meta = files.resolve(fileId + ".json");
        if (Files.exists(meta)) return fileId;
        Files.copy(data, files.resolve(fileId + ".data"), StandardCopyOption.REPLACE_EXISTING);
        writeJson(meta, fileObject(fileId, Files.size(data), filename, "batch_output").put(OWNER, owner));
        return fileId;
    }

    private synchronized void transition(String id, java.util.function.Consumer<JsonObject> change) {
        JsonObject b = readJson(batches.resolve(id + ".json"));
        change.accept(b);
        save(b);
    }

    private void save(JsonObject b) {
        writeJson(batches.resolve(b.getString("id") + ".json"), b);
    }

    /** Whether the caller (a key's name; null: the server has no keys) may see a stored file or batch. */
    private static boolean visible(JsonObject stored, String owner) {
        return owner == null || owner.equals(stored.getString(OWNER));
    }

    /** The stored object as the API shows it: without its owner. */
    private static JsonObject shown(JsonObject stored) {
        JsonObject o = stored.copy();
        o.remove(OWNER);
        return o;
    }

    private static JsonObject counts(BatchRunner.Counts c) {
        return new JsonObject().put("total", c.total()).put("completed", c.completed()).put("failed", c.failed());
    }

    private List<JsonObject> batchObjects() {
        return objects(batches);
    }

    /** The objects of a folder's {@code *.json} files, newest first. */
    private static List<JsonObject> objects(Path dir) {
        List<JsonObject> out = new ArrayList<>();
        try (var list = Files.list(dir)) {
            for (Path p : list.filter(p -> p.toString().endsWith(".json")).toList()) {
                JsonObject o = readJson(p);
                if (o != null) out.add(o);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(Comparator.comparingLong((JsonObject o) -> o.getLong("created_at")).thenComparing(o -> o.getString("id")).reversed());
        return out;
    }

    private static JsonObject readJson(Path p) {
        try {
            return Files.exists(p) ? new JsonObject(Files.readString(p)) : null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Written to a temporary file and renamed: a kill leaves the old object or the new one, never half of one. */
    private static void writeJson(Path p, JsonObject o) {
        try {
            Path tmp = p.resolveSibling(p.getFileName() + ".tmp");
            Files.writeString(tmp, o.encode());
            Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    private static String randomHex() {
        byte[] b = new byte[12];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Stops taking requests; batches in flight stay in their state and resume in the next process. */
    @Override
    public void close() {
        closed = true;
        for (Run r : runs.values()) if (r.thread != null) r.thread.interrupt();
        try {
            if (lockChannel != null) lockChannel.close();
        } catch (IOException ignored) {
            // the lock goes with the process anyway
        }
    }
}
