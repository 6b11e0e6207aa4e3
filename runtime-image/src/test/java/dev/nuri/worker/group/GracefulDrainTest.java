package dev.nuri.worker.group;

import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** SIGTERM lets the running request finish, then the process exits. */
class GracefulDrainTest {
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
