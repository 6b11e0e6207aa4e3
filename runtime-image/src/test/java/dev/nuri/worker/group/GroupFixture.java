package dev.nuri.worker.group;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Starts a group of real shard JVMs from the test classpath and talks to them over HTTP. */
final class GroupFixture implements AutoCloseable {
    final LocalGroup group;
    final Path logs;

    GroupFixture(int shards, Map<String, String> env) {
        this(shards, "builtin:tiny-axk1", env);
    }

    GroupFixture(int shards, String model, Map<String, String> env) {
        try {
            logs = Files.createDirectories(Path.of("target", "group-logs", shards + "-shards-" + System.nanoTime()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> shardEnv = new HashMap<>(InProcessShard.kernelSettings());
        shardEnv.putAll(env);
        group = LocalGroup.start(new LocalGroup.Spec(shards, model, 0, 0, System.getProperty("java.class.path"),
                "256m", shardEnv, logs));
        try {
            group.awaitReady(Duration.ofSeconds(120));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.close();
            throw new IllegalStateException(e);
        } catch (IllegalStateException e) {
            group.close(); // the test never gets the fixture to close: its shard JVMs would outlive it
            throw new IllegalStateException(e.getMessage() + "; logs in " + logs.toAbsolutePath(), e);
        }
    }

    /** Shard {@code shard}'s output so far. */
    String log(int shard) {
        try {
            return Files.readString(logs.resolve("shard-" + shard + ".log"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Http http(int shard) {
        return new Http(group.httpPort(shard));
    }

    static JsonObject greedy(String prompt, int maxTokens) {
        return new JsonObject().put("model", "tiny-axk1").put("prompt", prompt).put("max_tokens", maxTokens)
                .put("temperature", 0).put("ignore_eos", true).put("logprobs", 0);
    }

    /** The generated tokens (as the strings of their logprob entries) and the text. */
    static String tokensAndText(Http.Response r) {
        if (r.status() != 200) throw new AssertionError("status " + r.status() + ": " + r.body());
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        JsonArray tokens = choice.getJsonObject("logprobs").getJsonArray("tokens");
        return tokens.encode() + " | " + choice.getString("text");
    }

    @Override
    public void close() {
        group.close();
    }
}
