package dev.nuri.worker.group;

import dev.nuri.contract.ExpertLoad;
import dev.nuri.contract.GroupPlacementSwitch;
import dev.nuri.contract.LoadBalancedPlacement;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.PlacementFile;
import dev.nuri.contract.PlacementStrategy;
import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A group of four real shard processes serving a skewed model (tiny-axk1-skewed: two hot experts per layer) switches
 * to a placement computed from its measured load, live: no restart, no failed request, the same greedy tokens before,
 * during and after, and the realized balancedness above 0.9.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the switch comes last: the tests before it check the first placement
class LiveRebalanceTest {
    static final String MODEL = "tiny-axk1-skewed";
    static final List<String> PROMPTS = List.of("Hello, world", "안녕하세요, 오늘 날씨가", "Expert parallelism sends each token",
            "The quick brown fox jumps over the lazy dog");
    static final PlacementFile START = PlacementStrategy.BALANCED.layout(16, 4, 4, 1); // round-robin, 4 spare slots
    static GroupFixture group;
    static GroupPlacementSwitch control;

    @BeforeAll
    static void start() throws IOException {
        Path placement = Files.createTempFile("placement", ".json");
        Files.writeString(placement, START.toJson());
        // f32 on the wire: a shard's partial sum is then not rounded to BF16, so which shard computes an expert
        // changes only the order of float additions, not the greedy tokens
        group = new GroupFixture(4, "builtin:" + MODEL, Map.of("NURI_PLACEMENT_FILE", placement.toString(), "NURI_WIRE_DTYPE", "f32",
                "NURI_EXPERT_LOAD_WINDOW_SECONDS", "600"));
        control = new GroupPlacementSwitch(IntStream.range(0, 4).mapToObj(s -> URI.create("http://127.0.0.1:" + group.group.httpPort(s))).toList(),
                PeerKey.parse(group.group.peerKey()), Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        if (group != null) group.close();
    }

    @Test
    @Order(3)
    void aSkewedGroupRebalancesLiveWithTheSameGreedyTokensAndNoFailedRequest() throws Exception {
        List<String> before = answers();
        ExpertLoad loadBefore = ExpertLoad.sum(control.expertLoad());
        assertThat(loadBefore.total()).as("tokens counted in the window").isGreaterThan(0);
        double realizedBefore = loadBefore.realizedBalancedness();
        double predictedBefore = LoadBalancedPlacement.meanBalancedness(START, loadBefore.expertWeights());

        PlacementFile next = LoadBalancedPlacement.plan(loadBefore.expertWeights(), new LoadBalancedPlacement.Shape(16, 4, 4, 4, 1),
                START.generation() + 1);
        double predictedAfter = LoadBalancedPlacement.meanBalancedness(next, loadBefore.expertWeights());

        // requests keep coming on every shard while the group switches
        AtomicBoolean switching = new AtomicBoolean(true);
        AtomicInteger served = new AtomicInteger();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<List<String>> during = new ConcurrentLinkedQueue<>();
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            int shard = c;
            clients.add(Thread.ofPlatform().start(() -> {
                while (switching.get()) {
                    List<String> got = new ArrayList<>();
                    for (String prompt : PROMPTS) {
                        Http.Response r = group.http(shard).post("/v1/completions", greedy(prompt));
                        if (r.status() != 200) failures.add("shard " + shard + ": " + r.status() + " " + r.body());
                        else got.add(GroupFixture.tokensAndText(r));
                        served.incrementAndGet();
                    }
                    during.add(got);
                }
            }));
        }
        control.switchTo(next);
        switching.set(false);
        for (Thread t : clients) t.join(Duration.ofMinutes(2));

        SortedMap<Integer, long[]> atSwitch = ExpertLoad.sum(control.expertLoad()).shardPairs();
        List<String> after = answers();
        ExpertLoad loadAfter = ExpertLoad.sum(control.expertLoad());
        double realizedAfter = new ExpertLoad(-1, 0, 0, loadAfter.experts(), minus(loadAfter.shardPairs(), atSwitch)).realizedBalancedness();
        System.out.printf("live rebalance: balancedness realized %.3f -> %.3f (predicted %.3f -> %.3f), %d requests while switching%n",
                realizedBefore, realizedAfter, predictedBefore, predictedAfter, served.get());

        assertThat(failures).as("requests that failed while the group switched").isEmpty();
        assertThat(after).as("greedy answers after the switch").isEqualTo(before);
        assertThat(during).as("rounds of the request set during the switch").isNotEmpty()
                .allSatisfy(round -> assertThat(before).containsAll(round));
        for (int s = 0; s < 4; s++) {
            JsonObject state = internal(s, "POST", "/v1/internal/placement/release");
            assertThat(state.getLong("generation")).as("shard %d routes with", s).isEqualTo(next.generation());
            assertThat(loaded(state)).as("generations shard %d still holds", s).containsExactly(next.generation());
        }
        assertThat(realizedBefore).as("the skew shows before the switch").isLessThan(0.9);
        assertThat(realizedAfter).as("realized balancedness after the switch").isGreaterThan(0.9);
    }

    @Test
    @Order(1)
    void memoryFollowsThePerLayerPlacement() throws Exception {
        PlacementFile p = START;
        long expertBytes = 3L * 128 * 256 * Float.BYTES; // gate, up, down of one tiny-axk1 expert, F32
        for (int s = 0; s < 4; s++) {
            int slots = 0;
            for (int layer = 1; layer <= 3; layer++) slots += p.slots(layer)[s].length;
            assertThat(internal(s, "POST", "/v1/internal/placement/release").getLong("expertBytes")).as("expert bytes of shard %d", s)
                    .isEqualTo(slots * expertBytes);
        }
    }

    @Test
    @Order(2)
    void aShardThatCannotPrepareAbortsTheSwitchForTheWholeGroup() throws Exception {
        PlacementFile current = START;
        long g = current.generation() + 10;
        // shard 2 already holds generation g with another layout, so it refuses to prepare the group's g
        PlacementFile other = PlacementStrategy.STATIC.layout(16, 4, 4, g);
        PlacementFile next = PlacementStrategy.BALANCED.layout(16, 4, 0, g);
        assertThat(internalWithBody(2, "/v1/internal/placement/prepare", other.toJson()).status()).isEqualTo(200);
        List<String> before = answers();

        assertThatThrownBy(() -> control.switchTo(next)).isInstanceOf(GroupPlacementSwitch.SwitchFailedException.class)
                .hasMessageContaining("shard 2 could not prepare").hasMessageContaining("already loaded with another layout");
        for (int s = 0; s < 4; s++) {
            JsonObject state = internal(s, "POST", "/v1/internal/placement/release");
            assertThat(state.getLong("generation")).as("shard %d keeps the old placement", s).isEqualTo(current.generation());
            assertThat(loaded(state)).containsExactly(current.generation());
        }
        assertThat(answers()).isEqualTo(before);
    }

    @Test
    void theInternalEndpointsRefuseACallerWithoutThePeerKey() {
        Http.Response none = group.http(0).get("/v1/internal/expert-load");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.json().getJsonObject("error").getString("code")).isEqualTo("invalid_peer_proof");
        String forged = PeerKey.parse(PeerKey.generate()).requestProof("GET", "/v1/internal/expert-load", new byte[0],
                System.currentTimeMillis() / 1000);
        assertThat(group.http(0).get("/v1/internal/expert-load", PeerKey.REQUEST_HEADER, forged).status()).isEqualTo(401);
        // a proof is bound to its request: the load's proof does not open a placement change
        String loadProof = PeerKey.parse(group.group.peerKey()).requestProof("GET", "/v1/internal/expert-load", new byte[0],
                System.currentTimeMillis() / 1000);
        assertThat(group.http(0).post("/v1/internal/placement/release", "", PeerKey.REQUEST_HEADER, loadProof).status()).isEqualTo(401);
    }

    private static List<Long> loaded(JsonObject state) {
        return state.getJsonArray("loaded").stream().map(g -> ((Number) g).longValue()).toList();
    }

    private static List<String> answers() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < PROMPTS.size(); i++) {
            out.add(GroupFixture.tokensAndText(group.http(i % 4).post("/v1/completions", greedy(PROMPTS.get(i)))));
        }
        return out;
    }

    static JsonObject greedy(String prompt) {
        return GroupFixture.greedy(prompt, 24).put("model", MODEL);
    }

    private static JsonObject internal(int shard, String method, String path) {
        String proof = PeerKey.parse(group.group.peerKey()).requestProof(method, path, new byte[0], System.currentTimeMillis() / 1000);
        Http.Response r = method.equals("GET") ? group.http(shard).get(path, PeerKey.REQUEST_HEADER, proof)
                : group.http(shard).post(path, "", PeerKey.REQUEST_HEADER, proof);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json();
    }

    private static Http.Response internalWithBody(int shard, String path, String body) {
        String proof = PeerKey.parse(group.group.peerKey()).requestProof("POST", path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                System.currentTimeMillis() / 1000);
        return group.http(shard).post(path, body, PeerKey.REQUEST_HEADER, proof);
    }

    private static SortedMap<Integer, long[]> minus(SortedMap<Integer, long[]> a, SortedMap<Integer, long[]> b) {
        SortedMap<Integer, long[]> out = new TreeMap<>();
        a.forEach((layer, v) -> out.put(layer, IntStream.range(0, v.length).mapToLong(i -> v[i] - b.get(layer)[i]).toArray()));
        return out;
    }
}
