package dev.nuri.worker.api;

import dev.nuri.worker.group.LocalGroup;
import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A worker process's log never holds what users sent or got back, nor API keys: the test serves prompts, chats,
 * streams, refused requests and wrong keys, then searches the whole log for each of them.
 */
class LogHygieneTest {
    static final String KEY = "sk-nuri-log-canary-4f1c9e";
    static final String WRONG_KEY = "sk-wrong-log-canary-77b2";
    static final String PROMPT = "zebra canary prompt 7731";
    static final String CHAT = "okapi canary message 5519";
    static final String REFUSED = "narwhal canary refused 2287";

    @Test
    void promptsCompletionsAndKeysNeverReachTheLog() throws Exception {
        Path logs = Files.createDirectories(Path.of("target", "log-hygiene", "run-" + System.nanoTime()));
        List<String> secrets = new ArrayList<>(List.of(KEY, WRONG_KEY, PROMPT, CHAT, REFUSED));
        try (LocalGroup worker = LocalGroup.start(new LocalGroup.Spec(1, "builtin:tiny-axk1", 0, 0,
                System.getProperty("java.class.path"), "256m", Map.of("NURI_API_KEY", KEY), logs))) {
            worker.awaitReady(Duration.ofSeconds(120));
            Http http = new Http(worker.httpPort(0));
            String auth = "Bearer " + KEY;
            Http.Response completion = http.post("/v1/completions", new JsonObject().put("prompt", PROMPT)
                    .put("max_tokens", 24).put("ignore_eos", true).put("temperature", 0).encode(), "Authorization", auth);
            assertThat(completion.status()).as(completion.body()).isEqualTo(200);
            secrets.add(completion.json().getJsonArray("choices").getJsonObject(0).getString("text"));
            JsonArray messages = new JsonArray().add(new JsonObject().put("role", "user").put("content", CHAT));
            Http.Response chat = http.post("/v1/chat/completions", new JsonObject().put("messages", messages)
                    .put("max_tokens", 24).put("ignore_eos", true).put("temperature", 0).encode(), "Authorization", auth);
            assertThat(chat.status()).as(chat.body()).isEqualTo(200);
            secrets.add(chat.json().getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content"));
            Http.Response stream = http.post("/v1/completions", new JsonObject().put("prompt", PROMPT).put("stream", true)
                    .put("max_tokens", 8).encode(), "Authorization", auth);
            assertThat(stream.status()).isEqualTo(200);
            assertThat(http.post("/v1/completions", new JsonObject().put("prompt", REFUSED).put("n", 99).encode(),
                    "Authorization", auth).status()).isEqualTo(400);
            assertThat(http.post("/v1/completions", new JsonObject().put("prompt", PROMPT).encode(),
                    "Authorization", "Bearer " + WRONG_KEY).status()).isEqualTo(401);
            assertThat(http.post("/tokenize", new JsonObject().put("prompt", PROMPT).encode(), "Authorization", auth).status())
                    .isEqualTo(200);
        }
        String log = Files.readString(logs.resolve("shard-0.log"), StandardCharsets.UTF_8);
        assertThat(log).as("the worker logged something (the test reads the right file)").contains("ready to serve");
        for (String secret : secrets) {
            assertThat(secret).isNotBlank();
            assertThat(log).as("log of " + logs).doesNotContain(secret.strip());
        }
    }
}
