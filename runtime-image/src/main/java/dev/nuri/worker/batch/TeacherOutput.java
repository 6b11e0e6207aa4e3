package dev.nuri.worker.batch;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A teacher's top-k log-probabilities for distillation: for every answered request, each scored prompt position
 * (the 2nd prompt token on) and each generated position gets the token there, its log-probability, and the k most
 * likely tokens with theirs. Records are appended to a log beside the output while the batch runs (a safetensors file
 * needs its header first); {@link #writeSafetensors} turns the log into one file:
 * <ul>
 *   <li>{@code ids} int32 [N, k], {@code logprobs} float32 [N, k]: the top-k at each of the N positions, most likely
 *   first (id -1 and -inf pad a row when the vocabulary has fewer than k tokens)</li>
 *   <li>{@code tokens} int32 [N], {@code token_logprobs} float32 [N]: the token at each position</li>
 *   <li>metadata: {@code model}, {@code k}, {@code custom_ids} (a JSON array) and {@code offsets} (a JSON array of
 *   {@code [first row, prompt positions, completion positions]} per custom_id, in the same order)</li>
 * </ul>
 * Only choice 0 of a request is recorded. The requests are asked for {@code prompt_logprobs}, {@code logprobs} and
 * {@code return_tokens_as_token_ids} (so they show in the JSONL output too).
 */
public final class TeacherOutput {
    public static final int MAX_K = 20;
    private final Path log;
    private final int k;

    private record Row(int token, float logprob, int[] ids, float[] logprobs) {}

    private record Entry(String customId, String model, int promptPositions, List<Row> rows) {}

    public TeacherOutput(Path log, int k) {
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("the teacher's top-k must be 1.." + MAX_K + ", got " + k);
        this.log = log;
        this.k = k;
    }

    public int k() {
        return k;
    }

    /** The request as sent to the teacher: the caller's body with the log-probabilities asked for. */
    JsonObject ask(String url, JsonObject body) {
        JsonObject b = body.copy().put("prompt_logprobs", k).put("return_tokens_as_token_ids", true);
        if (url.endsWith("/chat/completions")) b.put("logprobs", true).put("top_logprobs", k);
        else b.put("logprobs", k);
        return b;
    }

    /** Appends one answered request's record (called under the runner's lock, before its JSONL line). */
    void append(String customId, String url, JsonObject answer) throws IOException {
        boolean chat = url.endsWith("/chat/completions");
        JsonObject choice = null;
        for (Object c : answer.getJsonArray("choices", new JsonArray())) {
            if (c instanceof JsonObject o && o.getInteger("index", 0) == 0) choice = o;
        }
        if (choice == null) return;
        List<Row> rows = new ArrayList<>();
        JsonArray prompt = chat ? answer.getJsonArray("prompt_logprobs") : choice.getJsonArray("prompt_logprobs");
        if (prompt != null) {
            for (Object p : prompt) if (p instanceof JsonObject entry) rows.add(promptRow(entry));
        }
        int promptPositions = rows.size();
        JsonObject lp = choice.getJsonObject("logprobs");
        if (lp != null && chat) {
            for (Object o : lp.getJsonArray("content", new JsonArray())) {
                JsonObject t = (JsonObject) o;
                Map<Integer, Float> top = new LinkedHashMap<>();
                for (Object a : t.getJsonArray("top_logprobs", new JsonArray())) {
                    JsonObject alt = (JsonObject) a;
                    top.put(id(alt.getString("token")), alt.getFloat("logprob"));
                }
                rows.add(row(id(t.getString("token")), t.getFloat("logprob"), top));
            }
        } else if (lp != null) {
            JsonArray tokens = lp.getJsonArray("tokens"), logprobs = lp.getJsonArray("token_logprobs"), tops = lp.getJsonArray("top_logprobs");
            for (int i = 0; i < tokens.size(); i++) {
                Map<Integer, Float> top = new LinkedHashMap<>();
                JsonObject alts = tops.getJsonObject(i);
                if (alts != null) for (String name : alts.fieldNames()) top.put(id(name), alts.getFloat(name));
                rows.add(row(id(tokens.getString(i)), logprobs.getFloat(i), top));
            }
        }
        String m = answer.getString("model", "");
        try (OutputStream file = Files.newOutputStream(log, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            var bytes = new java.io.ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF(customId);
            out.writeUTF(m);
            out.writeInt(promptPositions);
            out.writeInt(rows.size());
            for (Row r : rows) {
                out.writeInt(r.token);
                out.writeFloat(r.logprob);
                for (int i = 0; i < k; i++) {
                    out.writeInt(r.ids[i]);
                    out.writeFloat(r.logprobs[i]);
                }
            }
            // length first, then the record in one write: a kill leaves a short last record, cut by recover()
            byte[] record = bytes.toByteArray();
            file.write(ByteBuffer.allocate(4 + record.length).putInt(record.length).put(record).array());
        }
    }

    /** vLLM's prompt_logprobs entry: the scored token first, then alternatives, each {logprob, rank}. */
    private Row promptRow(JsonObject entry) {
        int token = -1;
        float logprob = Float.NEGATIVE_INFINITY;
        Map<Integer, Float> byRank = new java.util.TreeMap<>();
        Map<Integer, Integer> idByRank = new java.util.TreeMap<>();
        for (String key : entry.fieldNames()) {
            JsonObject v = entry.getJsonObject(key);
            int id = Integer.parseInt(key);
            if (token == -1) {
                token = id;
                logprob = v.getFloat("logprob");
            }
            int rank = v.getInteger("rank");
            if (rank >= 1 && rank <= k && !idByRank.containsKey(rank)) {
                idByRank.put(rank, id);
                byRank.put(rank, v.getFloat("logprob"));
            }
        }
        Map<Integer, Float> top = new LinkedHashMap<>();
        for (var e : idByRank.entrySet()) top.put(e.getValue(), byRank.get(e.getKey()));
        return row(token, logprob, top);
    }

    private Row row(int token, float logprob, Map<Integer, Float> top) {
        int[] ids = new int[k];
        float[] lps = new float[k];
        java.util.Arrays.fill(ids, -1);
        java.util.Arrays.fill(lps, Float.NEGATIVE_INFINITY);
        List<Map.Entry<Integer, Float>> sorted = new ArrayList<>(top.entrySet());
        sorted.sort((a, b) -> Float.compare(b.getValue(), a.getValue()));
        for (int i = 0; i < Math.min(k, sorted.size()); i++) {
            ids[i] = sorted.get(i).getKey();
            lps[i] = sorted.get(i).getValue();
        }
        return new Row(token, logprob, ids, lps);
    }

    /** {@code token_id:123} (return_tokens_as_token_ids) to 123. */
    private static int id(String name) {
        if (name == null || !name.startsWith("token_id:")) {
            throw new IllegalStateException("the teacher answered a token as '" + name + "', not token_id:<id>; it must support "
                    + "return_tokens_as_token_ids (vLLM and Nuri do)");
        }
        return Integer.parseInt(name.substring("token_id:".length()));
    }

    /** After a restart: cuts a record left short by a kill (its request is sent again). */
    void recover() throws IOException {
        if (!Files.exists(log)) return;
        long good = 0;
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(log)))) {
            while (true) {
                int length = in.readInt();
                if (length < 0 || in.readNBytes(length).length < length) break;
                good += 4 + length;
            }
        } catch (EOFException e) {
            // the end, or a short last record
        }
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.WRITE)) {
            if (ch.size() > good) ch.truncate(good);
        }
    }

    /** The log's records, the last one of each custom_id (an earlier one belongs to an answer a kill threw away). */
    private Map<String, Entry> entries(Set<String> answered) throws IOException {
        Map<String, Entry> last = new LinkedHashMap<>();
        if (!Files.exists(log)) return last;
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(log)))) {
            while (true) {
                try {
                    in.readInt();
                } catch (EOFException e) {
                    break;
                }
                String id = in.readUTF();
                String m = in.readUTF();
                int promptPositions = in.readInt();
                int n = in.readInt();
                List<Row> rows = new ArrayList<>(n);
                for (int r = 0; r < n; r++) {
                    int token = in.readInt();
                    float logprob = in.readFloat();
                    int[] ids = new int[k];
                    float[] lps = new float[k];
                    for (int i = 0; i < k; i++) {
                        ids[i] = in.readInt();
                        lps[i] = in.readFloat();
                    }
                    rows.add(new Row(token, logprob, ids, lps));
                }
                last.remove(id);
                if (answered.contains(id)) last.put(id, new Entry(id, m, promptPositions, rows));
            }
        }
        return last;
    }

    /** Writes the safetensors file of every answered request's last record; returns the number of positions. */
    public long writeSafetensors(Path out, Set<String> answered) throws IOException {
        Map<String, Entry> entries = entries(answered);
        int n = 0;
        for (Entry e : entries.values()) n += e.rows.size();
        JsonArray ids = new JsonArray(), offsets = new JsonArray();
        String modelName = null;
        int start = 0;
        for (Entry e : entries.values()) {
            ids.add(e.customId);
            offsets.add(new JsonArray().add(start).add(e.promptPositions).add(e.rows.size() - e.promptPositions));
            start += e.rows.size();
            if (modelName == null && !e.model.isEmpty()) modelName = e.model;
        }
        long idsBytes = 4L * n * k, tokensBytes = 4L * n;
        JsonObject header = new JsonObject()
                .put("__metadata__", new JsonObject().put("format", "nuri-teacher-v1").put("model", modelName == null ? "" : modelName)
                        .put("k", Integer.toString(k)).put("custom_ids", ids.encode()).put("offsets", offsets.encode()))
                .put("ids", tensor("I32", List.of(n, k), 0, idsBytes))
                .put("logprobs", tensor("F32", List.of(n, k), idsBytes, 2 * idsBytes))
                .put("tokens", tensor("I32", List.of(n), 2 * idsBytes, 2 * idsBytes + tokensBytes))
                .put("token_logprobs", tensor("F32", List.of(n), 2 * idsBytes + tokensBytes, 2 * idsBytes + 2 * tokensBytes));
        byte[] h = header.encode().getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8; // the data starts 8-byte aligned, padded with spaces as the format allows
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).put(h);
            while (head.hasRemaining()) head.put((byte) ' ');
            write(ch, head.flip());
            for (int part = 0; part < 4; part++) {
                ByteBuffer b = ByteBuffer.allocate(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
                for (Entry e : entries.values()) {
                    for (Row r : e.rows) {
                        if (b.remaining() < 4 * k) write(ch, b.flip()).clear();
                        switch (part) {
                            case 0 -> { for (int id : r.ids) b.putInt(id); }
                            case 1 -> { for (float lp : r.logprobs) b.putFloat(lp); }
                            case 2 -> b.putInt(r.token);
                            default -> b.putFloat(r.logprob);
                        }
                    }
                }
                write(ch, b.flip());
            }
        }
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return n;
    }

    private static JsonObject tensor(String dtype, List<Integer> shape, long from, long to) {
        return new JsonObject().put("dtype", dtype).put("shape", new JsonArray(new ArrayList<>(shape)))
                .put("data_offsets", new JsonArray().add(from).add(to));
    }

    private static ByteBuffer write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
        return b;
    }
}
