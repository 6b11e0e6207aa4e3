package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.contract.PlacementFile;
import dev.nuri.operator.OperatorConfig;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus.PlacementStatus;
import dev.nuri.operator.api.v1alpha1.Placement;
import dev.nuri.operator.api.v1alpha1.RebalanceSpec;
import dev.nuri.operator.autoscaling.Autoscaler;
import dev.nuri.operator.placement.Rebalancer;
import dev.nuri.operator.shard.ShardNames;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The rebalancer against a real API server and real worker processes: KWOK runs the shard pods (scheduling and
 * readiness are real) while their internal endpoints are answered by a {@code hack/serve} group started with the
 * deployment's own peer key and placement file, serving tiny-axk1-skewed (two hot experts per layer) under load. The
 * operator reads the group's expert load, rolls a better placement out live, records before/after balancedness in
 * status and an Event, and the placement ConfigMap then carries the new placement.
 */
@ExtendWith(KubernetesClusterExtension.class)
class ExpertRebalancerTest {
    static final String NS = "op-rebalance";
    static final Duration TIMEOUT = Duration.ofMinutes(3);
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    static KubernetesClient client;
    static OperatorHarness operator;
    static Process serve;
    static int servePort;

    @BeforeAll
    static void start(TestCluster c) {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 4, "rb-cpu", "zone-a");
        OperatorHarness.restrictedNamespace(c, NS);
        servePort = 21000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(8000);
        // every shard pod answers with the local group's shard of the same ordinal
        Rebalancer rebalancer = new Rebalancer((md, pod) -> {
            String name = pod.getMetadata().getName();
            return Optional.of(URI.create("http://127.0.0.1:" + (servePort + Integer.parseInt(name.substring(name.lastIndexOf('-') + 1)))));
        }, Duration.ofSeconds(1), Clock.systemUTC());
        OperatorConfig config = new OperatorConfig(List.of(NS), "nuri-worker:test", "127.0.0.1", 0, Optional.empty(), "test");
        // with the chart's rights, which let it create Secrets but not read them
        Assumptions.assumeTrue(c.hasTool("helm"), "needs helm for the chart's RBAC: hack/build-tools.sh builds it");
        operator = OperatorHarness.startAsChartServiceAccount(c, config, NS + "-system", Autoscaler.standard(config.autoscaleInterval()),
                rebalancer);
    }

    @AfterAll
    static void stop() {
        if (operator != null) operator.close();
        if (serve != null) {
            List<ProcessHandle> all = new ArrayList<>(serve.descendants().toList());
            all.add(serve.toHandle());
            all.forEach(ProcessHandle::destroy);
            for (ProcessHandle h : all) {
                try {
                    h.onExit().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    h.destroyForcibly();
                }
            }
        }
    }

    @Test
    void aSkewedGroupIsRebalancedLiveAndTheFiguresAreRecorded() throws Exception {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", NS);
        md.getSpec().experts.redundant = 4;
        md.getSpec().experts.placement = Placement.BALANCED;
        md.getSpec().experts.rebalance = new RebalanceSpec();
        md.getSpec().experts.rebalance.minIntervalSeconds = 600; // one rebalance in this test
        md.getSpec().experts.rebalance.minTokens = 3000;
        client.resource(md).create();

        // the local group stands for the pods: the deployment's peer key and placement file
        await().atMost(TIMEOUT).until(() -> secret() != null && configMap() != null);
        ConfigMap cm = configMap();
        assertThat(cm.getData()).hasSize(1);
        PlacementFile first = PlacementFile.parse(cm.getData().values().iterator().next());
        assertThat(first.defaultSlots()).as("round-robin before any load is measured").isNotNull();
        startLocalGroup(peerKey(), first);

        List<String> before = greedyAnswers();
        AtomicBoolean loading = new AtomicBoolean(true);
        AtomicInteger failed = new AtomicInteger();
        List<CompletableFuture<Void>> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int shard = i;
            clients.add(CompletableFuture.runAsync(() -> {
                while (loading.get()) {
                    try {
                        HttpResponse<String> r = post(servePort + shard, "{\"prompt\":\"rebalance " + shard + "\",\"max_tokens\":32,\"ignore_eos\":true}");
                        if (r.statusCode() != 200) failed.incrementAndGet();
                    } catch (Exception e) {
                        failed.incrementAndGet();
                    }
                }
            }));
        }
        try {
            await().atMost(TIMEOUT).until(() -> placementStatus() != null && placementStatus().lastRebalanceTime != null);
        } finally {
            loading.set(false);
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(2, TimeUnit.MINUTES);
        }
        PlacementStatus status = placementStatus();
        System.out.printf("operator rebalance: %s (balancedness %s -> %s)%n", status.message, status.balancednessBefore, status.balancednessAfter);
        assertThat(failed).as("requests that failed while the operator rebalanced").hasValue(0);
        assertThat(Double.parseDouble(status.balancednessBefore)).as("balancedness before").isLessThan(0.9);
        assertThat(Double.parseDouble(status.balancednessAfter)).as("balancedness after (predicted)").isGreaterThan(0.9);
        assertThat(status.generation).isEqualTo(first.generation() + 1);
        assertThat(events("Rebalanced")).singleElement().satisfies(e -> assertThat(e.getMessage())
                .startsWith("rebalanced 1 group(s) to generation " + status.generation + ": balancedness " + status.balancednessBefore
                        + " -> " + status.balancednessAfter));
        for (int s = 0; s < 4; s++) {
            assertThat(metric(servePort + s, "nuri_placement_generation")).as("generation shard %d routes with", s)
                    .isEqualTo(status.generation.doubleValue());
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            PlacementFile written = PlacementFile.parse(configMap().getData().values().iterator().next());
            assertThat(written.generation()).isEqualTo(status.generation);
            assertThat(written.defaultSlots()).as("per-layer entries").isNull();
        });
        assertThat(greedyAnswers()).as("greedy answers after the rebalance").isEqualTo(before);
    }

    static void startLocalGroup(String peerKey, PlacementFile placement) throws Exception {
        Path file = Files.createTempFile("nuri-placement", ".json");
        Files.writeString(file, placement.toJson());
        Path log = Files.createTempFile("nuri-serve", ".log");
        ProcessBuilder pb = new ProcessBuilder(TestCluster.REPO.resolve("hack/serve").toString(), "--shards", "4",
                "--model", "builtin:tiny-axk1-skewed", "--placement-file", file.toString(), "--wire-dtype", "f32",
                "--expert-load-window-seconds", "600",
                "--port", Integer.toString(servePort), "--peer-port", Integer.toString(servePort + 10), "--exit-with-parent")
                .directory(TestCluster.REPO.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("NURI_PEER_KEY", peerKey);
        serve = pb.start();
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(500)).until(() -> {
            if (!serve.isAlive()) throw new AssertionError("hack/serve exited:\n" + Files.readString(log));
            for (int s = 0; s < 4; s++) {
                try {
                    if (get("http://127.0.0.1:" + (servePort + s) + "/health/ready").statusCode() != 200) return false;
                } catch (IOException e) {
                    return false;
                }
            }
            return true;
        });
    }

    static List<String> greedyAnswers() throws Exception {
        List<String> out = new ArrayList<>();
        for (String prompt : List.of("Hello, world", "Expert parallelism sends each token")) {
            HttpResponse<String> r = post(servePort + out.size() % 4, "{\"prompt\":\"" + prompt
                    + "\",\"max_tokens\":24,\"temperature\":0,\"ignore_eos\":true}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            out.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body()).at("/choices/0/text").asText());
        }
        return out;
    }

    static Secret secret() {
        return client.secrets().inNamespace(NS).withName("tiny-peer-key").get();
    }

    static String peerKey() {
        Secret s = secret();
        if (s.getStringData() != null && s.getStringData().get(ShardNames.PEER_KEY_ENTRY) != null) {
            return s.getStringData().get(ShardNames.PEER_KEY_ENTRY);
        }
        return new String(Base64.getDecoder().decode(s.getData().get(ShardNames.PEER_KEY_ENTRY)), StandardCharsets.US_ASCII);
    }

    static ConfigMap configMap() {
        return client.configMaps().inNamespace(NS).withName("tiny-placement").get();
    }

    static PlacementStatus placementStatus() {
        ModelDeployment md = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
        return md.getStatus() == null ? null : md.getStatus().placement;
    }

    static List<Event> events(String reason) {
        return client.v1().events().inNamespace(NS).list().getItems().stream().filter(e -> reason.equals(e.getReason())).toList();
    }

    static double metric(int port, String name) throws Exception {
        return get("http://127.0.0.1:" + port + "/metrics").body().lines().filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(int port, String json) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions")).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
