package dev.nuri.worker.api;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.InProcessShard;
import dev.nuri.worker.support.RawHttp;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A chat template that renders for a long time (here one from --chat-template that never ends) runs off the event
 * loops: liveness keeps answering on every loop while it runs, and the render is cut at its time limit with a 400.
 */
class ChatTemplateRenderTest {
    @TempDir
    static Path dir;
    static InProcessShard shard;

    @BeforeAll
    static void start() throws IOException {
        Path template = Files.writeString(dir.resolve("slow.jinja"), "{% for a in range(1000) %}{% for b in range(1000) %}"
                + "{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}{{ messages[0]['content'] }}");
        shard = InProcessShard.start("--chat-template", template.toString(), "--chat-template-timeout-ms", "8000");
    }

    @AfterAll
    static void stop() {
        shard.close();
    }

    @Test
    void aLongRenderDoesNotDelayLivenessAndIsCutAtItsLimit() {
        Http http = shard.http;
        int port = http.uri("/").getPort();
        CompletableFuture<Http.Response> chat = CompletableFuture.supplyAsync(() -> http.post("/v1/chat/completions",
                new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")))));
        List<Duration> probes = new ArrayList<>();
        // a render on an event loop would hold a probe for all of its 8 s of CPU time, longer on a loaded machine; a
        // probe's own bound leaves a loaded machine room below that
        for (int i = 0; i < 3; i++) probes.add(RawHttp.timeLiveness(port, Duration.ofSeconds(5)));
        assertThat(chat).as("still rendering while the probes ran").isNotDone();
        assertThat(probes).allSatisfy(d -> assertThat(d).isLessThan(Duration.ofSeconds(5)));

        Http.Response r = chat.join();
        assertThat(r.status()).as(r.body()).isEqualTo(400);
        JsonObject error = r.json().getJsonObject("error");
        assertThat(error.getString("param")).isEqualTo("messages");
        assertThat(error.getString("message")).contains("longer than 8000 ms");
    }
}
