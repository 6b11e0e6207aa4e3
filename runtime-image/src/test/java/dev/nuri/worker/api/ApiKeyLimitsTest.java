package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Several API keys from a keys file, each with its own request and token budgets (429 + Retry-After past them). */
class ApiKeyLimitsTest {
    static InProcessShard shard;
    static Path keys;

    @BeforeAll
    static void start() throws IOException {
        keys = Files.createTempFile("nuri-api-keys", ".txt");
        Files.writeString(keys, """
                # name key requests/min tokens/min
                few-requests sk-few-requests 3 -
                few-tokens   sk-few-tokens   -  100
                unlimited    sk-unlimited
                """);
        shard = InProcessShard.start("--api-key", "sk-single", "--api-keys-file", keys.toString());
    }

    @AfterAll
    static void stop() throws IOException {
        shard.close();
        Files.deleteIfExists(keys);
    }

    static Http.Response complete(String key, int maxTokens) {
        return shard.http.post("/v1/completions", new JsonObject().put("prompt", "hi").put("max_tokens", maxTokens).encode(),
                "Authorization", "Bearer " + key);
    }

    static void assertRateLimited(Http.Response r, String fragment) {
        assertThat(r.status()).as(r.body()).isEqualTo(429);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("type")).isEqualTo("rate_limit_error");
        assertThat(error.getString("code")).isEqualTo("rate_limit_exceeded");
        assertThat(error.getString("message")).contains(fragment).doesNotContain("sk-");
        assertThat(Integer.parseInt(r.headers().firstValue("Retry-After").orElseThrow())).isBetween(1, 60);
    }

    @Test
    void aKeyPastItsRequestRateGets429WhileOtherKeysAreServed() {
        for (int i = 0; i < 3; i++) assertThat(complete("sk-few-requests", 1).status()).isEqualTo(200);
        assertRateLimited(complete("sk-few-requests", 1), "3 requests per minute reached for API key 'few-requests'");
        assertThat(complete("sk-unlimited", 1).status()).isEqualTo(200);
        assertThat(complete("sk-single", 1).status()).isEqualTo(200);
    }

    @Test
    void aKeyPastItsTokenRateGets429CountingMaxTokens() {
        // "hi" is a few tokens; max_tokens 60 counts in full, so a second request does not fit 100 tokens a minute
        assertThat(complete("sk-few-tokens", 60).status()).isEqualTo(200);
        assertRateLimited(complete("sk-few-tokens", 60), "100 tokens per minute reached for API key 'few-tokens'");
        assertRateLimited(complete("sk-few-tokens", 500), "more than the 100 per minute");
    }

    @Test
    void unknownKeysAre401AndAKeyAddedToTheFileWorksWithoutARestart() throws IOException {
        assertThat(complete("sk-later", 1).status()).isEqualTo(401);
        Files.writeString(keys, Files.readString(keys) + "later sk-later\n");
        Files.setLastModifiedTime(keys, FileTime.from(Instant.now().plusSeconds(5)));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .until(() -> complete("sk-later", 1).status() == 200);
    }
}
