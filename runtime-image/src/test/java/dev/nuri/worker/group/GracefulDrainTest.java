package dev.nuri.worker.group;

import dev.nuri.worker.support.Http;
import dev.nuri.worker.support.RawHttp;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** SIGTERM lets the running request finish, then the process exits. */
class GracefulDrainTest {

    /**
     * A rollout or scale-down deletes all of a group's pods at once. Seen on a real node: a shard with
     * nothing of its own running exited at once, and its peers' requests (running, or routed to them
     * before the endpoints caught up) failed with 503 "peer shard lost".
     */
    @Test
    void aGroupStoppedTogetherFinishesWhatItsPeersRunAndServesLateRequests() throws Exception {
        try (GroupFixture fixture = new GroupFixture(2, Map.of())) {
            HttpResponse<Stream<String>> stream = fixture.http(1).stream("/v1/completions", new JsonObject()
                    .put("prompt", "drain").put("max_tokens", 400).put("ignore_eos", true).put("stream", true));
            // read as a client does (a client that stops reading pauses its generation: see docs/api.md)
            List<String> received = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread reader = Thread.ofVirtual().start(() -> stream.body().forEach(received::add));
            await().atMost(Duration.ofSeconds(30)).until(() -> received.stream().anyMatch(l -> l.startsWith("data: ")));
            Process idle = fixture.group.process(0);
            idle.destroy(); // SIGTERM to the shard that runs nothing of its own
            await().atMost(Duration.ofSeconds(30)).until(() -> fixture.http(0).get("/health/ready").status() == 503);

            // late requests, on the draining shard and on its peer: served, not 503
            for (int shard = 0; shard < 2; shard++) {
                Http.Response late = fixture.http(shard).post("/v1/completions", GroupFixture.greedy("late", 8));
                assertThat(late.status()).as("shard %d: %s", shard, late.body()).isEqualTo(200);
            }
            // a kept-alive client of the draining shard is told to reconnect (elsewhere, through a Service)
            RawHttp keptAlive = RawHttp.connect(fixture.group.httpPort(0))
                    .send(RawHttp.postKeepAlive("/v1/completions", GroupFixture.greedy("late", 4).encode()));
            String answer = keptAlive.readUntilClosed(Duration.ofSeconds(30));
            assertThat(answer).startsWith("HTTP/1.1 200").containsIgnoringCase("connection: close");
            assertThat(keptAlive.closedByServer()).as("the draining shard closed the kept-alive connection").isTrue();
            fixture.group.process(1).destroy();

            assertThat(reader.join(Duration.ofMinutes(2))).as("the stream ended").isTrue();
            List<String> data = received.stream().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
            assertThat(data).as("the running stream").noneMatch(d -> d.contains("\"error\""));
            assertThat(data.getLast()).isEqualTo("[DONE]");
            String finish = new JsonObject(data.get(data.size() - 2)).getJsonArray("choices").getJsonObject(0).getString("finish_reason");
            assertThat(finish).isEqualTo("length");
            assertThat(idle.waitFor(30, TimeUnit.SECONDS)).as("the idle shard exits once the group is quiet").isTrue();
            assertThat(fixture.group.process(1).waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void sigtermFinishesTheRunningStreamBeforeExiting() throws Exception {
        try (GroupFixture fixture = new GroupFixture(1, Map.of())) {
            Http http = fixture.http(0);
            HttpResponse<Stream<String>> stream = http.stream("/v1/completions", new JsonObject().put("prompt", "drain")
                    .put("max_tokens", 900).put("ignore_eos", true).put("stream", true));
            Iterator<String> lines = stream.body().iterator();
            assertThat(lines.next()).startsWith("data: ");
            Process shard = fixture.group.process(0);
            shard.destroy(); // SIGTERM

            List<String> rest = new ArrayList<>();
            lines.forEachRemaining(rest::add);
            List<String> data = rest.stream().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
            assertThat(data.getLast()).isEqualTo("[DONE]");
            String finish = new JsonObject(data.get(data.size() - 2)).getJsonArray("choices").getJsonObject(0).getString("finish_reason");
            assertThat(finish).isEqualTo("length");
            assertThat(shard.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
    }
}
