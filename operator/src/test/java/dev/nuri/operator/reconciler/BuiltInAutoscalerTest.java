package dev.nuri.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.OperatorConfig;
import dev.nuri.operator.api.v1alpha1.AutoscalingSpec;
import dev.nuri.operator.api.v1alpha1.AutoscalingStatus;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.autoscaling.Autoscaler;
import dev.nuri.operator.autoscaling.PodMetricsScraper;
import dev.nuri.operator.autoscaling.PrometheusMetricsSource;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
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
 * The built-in autoscaler against a real API server and real worker processes: KWOK runs the shard
 * pods (so scheduling, readiness and the scale subresource are real) while their /metrics are
 * answered by a {@code hack/serve} group of the same model on loopback, which the test loads with
 * real requests. Queue depth adds a group; idleness removes it after the stabilization window; a
 * group whose metrics cannot be read holds the scale-down.
 */
@ExtendWith(KubernetesClusterExtension.class)
class BuiltInAutoscalerTest {

    static final String NS = "op-autoscale";
    static final Duration TIMEOUT = Duration.ofSeconds(120);
    static final int SCALE_DOWN_WINDOW = 20;

    static TestCluster cluster;
    static KubernetesClient client;
    static OperatorHarness operator;
    static Process serve;
    static int servePort;
    /** group index -> whether its pods' metrics answer (from the local group) */
    static final Map<Integer, Boolean> readable = new ConcurrentHashMap<>();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    @BeforeAll
    static void start(TestCluster c) throws Exception {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        cluster = c;
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 4, "as-cpu", "zone-a");
        OperatorHarness.restrictedNamespace(c, NS);
        startLocalGroup();
        // every shard pod of a readable group answers with the local group's shard of the same index
        PodMetricsScraper scraper = new PodMetricsScraper((md, pod) -> {
            String name = pod.getMetadata().getName();
            int group = Integer.parseInt(pod.getMetadata().getLabels().get(ShardLabels.GROUP));
            int shard = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
            return readable.getOrDefault(group, false)
                    ? Optional.of(URI.create("http://127.0.0.1:" + (servePort + shard) + "/metrics")) : Optional.empty();
        });
        Autoscaler autoscaler = new Autoscaler(scraper, new PrometheusMetricsSource(), Duration.ofSeconds(1), Clock.systemUTC());
        operator = OperatorHarness.start(c, new OperatorConfig(List.of(NS), "nuri-worker:test", "127.0.0.1", 0, Optional.empty(),
                "test", Duration.ofSeconds(1)), autoscaler);
    }

    /** {@code hack/serve}: four shard processes of the builtin model, each decoding at most one sequence at a time. */
    static void startLocalGroup() throws Exception {
        servePort = 21000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(8000);
        Path log = Files.createTempFile("nuri-serve", ".log");
        serve = new ProcessBuilder(TestCluster.REPO.resolve("hack/serve").toString(), "--shards", "4",
                "--port", Integer.toString(servePort), "--peer-port", Integer.toString(servePort + 10), "--max-batch", "1")
                .directory(TestCluster.REPO.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(500)).until(() -> {
            if (!serve.isAlive()) throw new AssertionError("hack/serve exited:\n" + Files.readString(log));
            try {
                return get("http://127.0.0.1:" + servePort + "/health/ready").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
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
    void queueDepthAddsAGroupAndIdlenessRemovesItAfterTheWindowButUnreadableMetricsHold() throws Exception {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", NS);
        md.getSpec().autoscaling = new AutoscalingSpec();
        md.getSpec().autoscaling.enabled = true;
        md.getSpec().autoscaling.maxReplicas = 2;
        md.getSpec().autoscaling.scaleUpStabilizationSeconds = 0;
        md.getSpec().autoscaling.scaleDownStabilizationSeconds = SCALE_DOWN_WINDOW;
        md.getSpec().autoscaling.targets = new AutoscalingSpec.Targets();
        md.getSpec().autoscaling.targets.queueLength = 2;
        client.resource(md).create();
        readable.put(0, true);
        await().atMost(TIMEOUT).until(() -> status() != null && status().measuredGroups == 1);
        assertThat(status().targets).singleElement().satisfies(t -> {
            assertThat(t.name).isEqualTo("queueLength");
            assertThat(t.current).isEqualTo("0");
            assertThat(t.target).isEqualTo("2");
        });
        assertThat(replicas()).as("idle at minReplicas").isEqualTo(1);

        // load: 8 requests at a time on shard 0, which decodes one sequence at a time; 7 wait
        AtomicBoolean loading = new AtomicBoolean(true);
        AtomicInteger failed = new AtomicInteger();
        List<CompletableFuture<Void>> clients = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            clients.add(CompletableFuture.runAsync(() -> {
                while (loading.get()) {
                    try {
                        HttpResponse<String> r = post("http://127.0.0.1:" + servePort + "/v1/completions",
                                "{\"prompt\":\"autoscale\",\"max_tokens\":64,\"ignore_eos\":true}");
                        if (r.statusCode() != 200) failed.incrementAndGet();
                    } catch (Exception e) {
                        failed.incrementAndGet();
                    }
                }
            }));
        }
        try {
            await().atMost(TIMEOUT).until(() -> replicas() == 2);
        } finally {
            loading.set(false);
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(2, TimeUnit.MINUTES);
        }
        assertThat(failed).as("failed requests").hasValue(0);
        AutoscalingStatus up = status();
        assertThat(up.decidingTarget).isEqualTo("queueLength");
        assertThat(up.lastScaleTime).isNotNull();
        assertThat(events("ScaledUp")).singleElement().satisfies(e -> assertThat(e.getMessage())
                .startsWith("groups 1 -> 2: queueLength ").endsWith("adding a group"));
        assertThat(scaleWrites()).as("spec.replicas written through the scale subresource, and only there")
                .hasSize(1).allSatisfy(w -> assertThat(w).contains("\"subresource\":\"scale\""));

        // the new group serves (KWOK) but its metrics cannot be read: idle for longer than the window, still 2
        await().atMost(TIMEOUT).until(() -> readyGroups() == 2);
        await().during(Duration.ofSeconds(SCALE_DOWN_WINDOW + 5)).atMost(Duration.ofSeconds(SCALE_DOWN_WINDOW + 30))
                .until(() -> replicas() == 2);
        assertThat(status().message).contains("1 group(s) could not be measured");

        // readable again: after the window of idleness, back to one group
        long readableSince = System.nanoTime();
        readable.put(1, true);
        await().atMost(TIMEOUT).until(() -> replicas() == 1);
        assertThat((System.nanoTime() - readableSince) / 1e9).as("seconds before the scale-down")
                .isGreaterThanOrEqualTo(SCALE_DOWN_WINDOW - 1);
        assertThat(events("ScaledDown")).singleElement().satisfies(e -> assertThat(e.getMessage())
                .startsWith("groups 2 -> 1: queueLength 0 against 2 asks for 0: below target for the whole scale-down"));
        assertThat(scaleWrites()).hasSize(2).allSatisfy(w -> assertThat(w).contains("\"subresource\":\"scale\""));
    }

    static AutoscalingStatus status() {
        ModelDeployment md = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get();
        return md.getStatus() == null ? null : md.getStatus().autoscaling;
    }

    static int replicas() {
        return client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getSpec().replicas();
    }

    static int readyGroups() {
        var s = client.resources(ModelDeployment.class).inNamespace(NS).withName("tiny").get().getStatus();
        return s == null || s.readyReplicas == null ? 0 : s.readyReplicas;
    }

    static List<Event> events(String reason) {
        return client.v1().events().inNamespace(NS).list().getItems().stream().filter(e -> reason.equals(e.getReason())).toList();
    }

    /** The operator's writes that changed the deployment's spec (the audit log of the API server). */
    static List<String> scaleWrites() throws IOException {
        Path audit = cluster.auditLog().orElseThrow(() -> new AssertionError("needs the API server's audit log"));
        return Files.readAllLines(audit).stream()
                .filter(l -> l.contains("\"userAgent\":\"" + OperatorHarness.USER_AGENT + "\""))
                .filter(l -> l.contains("\"resource\":\"modeldeployments\"") && l.contains("\"namespace\":\"" + NS + "\""))
                .filter(l -> !l.contains("\"subresource\":\"status\""))
                .filter(l -> l.contains("\"verb\":\"update\"") || l.contains("\"verb\":\"patch\""))
                .toList();
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String url, String json) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
