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

    static final String NS = "op-autoscale", DRAIN = "op-drain", ROLL = "op-drain-rollout", PROM = "op-prometheus";
    static final Duration TIMEOUT = Duration.ofSeconds(120);
    static final int SCALE_DOWN_WINDOW = 20;

    static TestCluster cluster;
    static KubernetesClient client;
    static OperatorHarness operator;
    static Process serve;
    static Process prometheus;
    static int servePort;
    /** "namespace/group index" -> whether its pods' metrics answer (from the local group) */
    static final Map<String, Boolean> readable = new ConcurrentHashMap<>();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    @BeforeAll
    static void start(TestCluster c) throws Exception {
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK to simulate NPU nodes");
        cluster = c;
        client = c.client();
        c.kubectl("apply", "-f", TestCluster.REPO.resolve("crds").toString()).assertSuccess();
        c.addNodes("cpu", 4, "as-cpu", "zone-a");
        OperatorHarness.restrictedNamespace(c, NS);
        OperatorHarness.restrictedNamespace(c, DRAIN);
        OperatorHarness.restrictedNamespace(c, ROLL);
        OperatorHarness.restrictedNamespace(c, PROM);
        startLocalGroup();
        // every shard pod of a readable group answers with the local group's shard of the same index
        PodMetricsScraper scraper = new PodMetricsScraper((md, pod) -> {
            String name = pod.getMetadata().getName();
            int group = Integer.parseInt(pod.getMetadata().getLabels().get(ShardLabels.GROUP));
            int shard = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
            return readable.getOrDefault(pod.getMetadata().getNamespace() + "/" + group, false)
                    ? Optional.of(URI.create("http://127.0.0.1:" + (servePort + shard) + "/metrics")) : Optional.empty();
        });
        Autoscaler autoscaler = new Autoscaler(scraper, new PrometheusMetricsSource(), Duration.ofSeconds(1), Clock.systemUTC());
        operator = OperatorHarness.start(c, new OperatorConfig(List.of(NS, DRAIN, ROLL, PROM), "nuri-worker:test", "127.0.0.1", 0, Optional.empty(),
                "test", Duration.ofSeconds(1)), autoscaler);
    }

    /** {@code hack/serve}: four shard processes of the builtin model, each decoding at most one sequence at a time. */
    static void startLocalGroup() throws Exception {
        servePort = 21000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(8000);
        Path log = Files.createTempFile("nuri-serve", ".log");
        serve = new ProcessBuilder(TestCluster.REPO.resolve("hack/serve").toString(), "--shards", "4",
                "--port", Integer.toString(servePort), "--peer-port", Integer.toString(servePort + 10), "--max-batch", "1", "--exit-with-parent")
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
        if (prometheus != null) {
            prometheus.destroy();
            try {
                if (!prometheus.waitFor(30, TimeUnit.SECONDS)) prometheus.destroyForcibly();
            } catch (InterruptedException e) {
                prometheus.destroyForcibly();
            }
        }
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
        readable.put(NS + "/0", true);
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
        // the Event and the status follow the scale write (later calls of the same reconcile): awaited, then checked
        await().atMost(TIMEOUT).until(() -> status().lastScaleTime != null && !events("ScaledUp").isEmpty());
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
        readable.put(NS + "/1", true);
        await().atMost(TIMEOUT).until(() -> replicas() == 1);
        assertThat((System.nanoTime() - readableSince) / 1e9).as("seconds before the scale-down")
                .isGreaterThanOrEqualTo(SCALE_DOWN_WINDOW - 1);
        // the Event follows the scale write by a moment (the next call of the same reconcile)
        await().atMost(TIMEOUT).until(() -> !events("ScaledDown").isEmpty());
        assertThat(events("ScaledDown")).singleElement().satisfies(e -> assertThat(e.getMessage())
                .startsWith("groups 2 -> 1: queueLength 0 against 2 asks for 0: below target for the whole scale-down"));
        assertThat(scaleWrites()).hasSize(2).allSatisfy(w -> assertThat(w).contains("\"subresource\":\"scale\""));
    }

    /**
     * A group being removed takes no new request (out of the client Service's endpoints) but stays until the request
     * in flight on it is done; then its StatefulSet goes.
     */
    @Test
    void aRemovedGroupLeavesTheServiceFirstAndGoesOnlyWhenItsRequestsAreDone() throws Exception {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", DRAIN);
        md.getSpec().replicas = 2;
        client.resource(md).create();
        readable.put(DRAIN + "/0", true);
        readable.put(DRAIN + "/1", true);
        await().atMost(TIMEOUT).until(() -> {
            var s = client.resources(ModelDeployment.class).inNamespace(DRAIN).withName("tiny").get().getStatus();
            return s != null && Integer.valueOf(2).equals(s.readyReplicas);
        });
        await().atMost(TIMEOUT).until(() -> endpointPods(DRAIN).size() == 8);

        // a long generation in flight on the local shard that group 1's pods stand for: 16 choices of 900 tokens, as
        // one choice alone finished within the rollout's first steps on a fast machine (CI, 2026-12-02)
        CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> {
            try {
                return post("http://127.0.0.1:" + (servePort + 1) + "/v1/completions",
                        "{\"prompt\":\"drain\",\"max_tokens\":900,\"n\":16,\"ignore_eos\":true}");
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        await().atMost(Duration.ofSeconds(30)).until(() -> metric(servePort + 1, "nuri_num_requests_running") >= 1);
        client.resources(ModelDeployment.class).inNamespace(DRAIN).withName("tiny").scale(1);

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(client.pods().inNamespace(DRAIN).withLabel(ShardLabels.GROUP, "1").list().getItems())
                    .hasSize(4).allSatisfy(p -> assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.TRAFFIC, "off"));
            assertThat(endpointPods(DRAIN)).as("the client Service's endpoints").hasSize(4).allMatch(n -> n.startsWith("tiny-g0-"));
        });
        assertThat(inFlight).as("the request is still running").isNotDone();
        assertThat(client.apps().statefulSets().inNamespace(DRAIN).withName("tiny-g1").get())
                .as("group 1 while its request runs").isNotNull();

        HttpResponse<String> done = inFlight.get(3, TimeUnit.MINUTES);
        assertThat(done.statusCode()).as(done.body()).isEqualTo(200);
        await().atMost(TIMEOUT).until(() -> client.apps().statefulSets().inNamespace(DRAIN).withName("tiny-g1").get() == null);
    }

    /**
     * A rollout stops a group to start it at the new revision the same way: out of the client Service first, and
     * its pods stay until the request in flight on it is done (before, the group was scaled to zero at once and its
     * shards' SIGTERM drain was all that protected the request).
     */
    @Test
    void aGroupARolloutStopsLeavesTheServiceFirstAndStopsOnlyWhenItsRequestsAreDone() throws Exception {
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", ROLL);
        md.getSpec().replicas = 2;
        client.resource(md).create();
        readable.put(ROLL + "/0", true);
        readable.put(ROLL + "/1", true);
        await().atMost(TIMEOUT).until(() -> {
            var s = client.resources(ModelDeployment.class).inNamespace(ROLL).withName("tiny").get().getStatus();
            return s != null && Integer.valueOf(2).equals(s.readyReplicas);
        });
        await().atMost(TIMEOUT).until(() -> endpointPods(ROLL).size() == 8);

        // both groups' shard 1 stand for the local shard 1: a long generation there keeps either group busy (16
        // choices of 900 tokens: one choice alone could finish before the rollout's first steps were checked)
        CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> {
            try {
                return post("http://127.0.0.1:" + (servePort + 1) + "/v1/completions",
                        "{\"prompt\":\"rollout\",\"max_tokens\":900,\"n\":16,\"ignore_eos\":true}");
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        await().atMost(Duration.ofSeconds(30)).until(() -> metric(servePort + 1, "nuri_num_requests_running") >= 1);
        TestCluster.editAsAUser(client.resources(ModelDeployment.class).inNamespace(ROLL).withName("tiny"),
                m -> m.getSpec().resources.getRequests().put("cpu", new io.fabric8.kubernetes.api.model.Quantity("320m")));

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(client.pods().inNamespace(ROLL).withLabel(ShardLabels.GROUP, "0").list().getItems())
                    .hasSize(4).allSatisfy(p -> assertThat(p.getMetadata().getLabels()).containsEntry(ShardLabels.TRAFFIC, "off"));
            assertThat(endpointPods(ROLL)).as("the client Service's endpoints").hasSize(4).allMatch(n -> n.startsWith("tiny-g1-"));
        });
        assertThat(inFlight).as("the request is still running").isNotDone();
        assertThat(client.apps().statefulSets().inNamespace(ROLL).withName("tiny-g0").get().getSpec().getReplicas())
                .as("group 0's shards while its request runs").isEqualTo(4);

        HttpResponse<String> done = inFlight.get(3, TimeUnit.MINUTES);
        assertThat(done.statusCode()).as(done.body()).isEqualTo(200);
        await().atMost(TIMEOUT).untilAsserted(() -> {
            var s = client.resources(ModelDeployment.class).inNamespace(ROLL).withName("tiny").get().getStatus();
            assertThat(s.updatedReplicas).as("groups at the new revision").isEqualTo(2);
            assertThat(s.readyReplicas).isEqualTo(2);
            assertThat(endpointPods(ROLL)).hasSize(8);
        });
    }

    /**
     * The Prometheus path with a real Prometheus (Debian's) scraping the real workers as the pods of a
     * deployment would be (namespace, pod and deployment labels) and the operator: the autoscaler reads
     * every target from it, and every expression of the chart's Grafana dashboard returns data.
     */
    @Test
    void readsTheTargetsFromPrometheusAndTheDashboardQueriesReturnData() throws Exception {
        int port = startPrometheus();
        String url = "http://127.0.0.1:" + port;
        ModelDeployment md = OperatorHarness.example("tiny-cpu.yaml", PROM);
        md.getSpec().autoscaling = new AutoscalingSpec();
        md.getSpec().autoscaling.enabled = true;
        md.getSpec().autoscaling.maxReplicas = 2;
        md.getSpec().autoscaling.prometheus = new AutoscalingSpec.Prometheus();
        md.getSpec().autoscaling.prometheus.url = url;
        md.getSpec().autoscaling.targets = new AutoscalingSpec.Targets();
        md.getSpec().autoscaling.targets.queueLength = 100;
        md.getSpec().autoscaling.targets.kvCacheUsagePercent = 90;
        md.getSpec().autoscaling.targets.timeToFirstTokenMillis = 60000;
        md.getSpec().autoscaling.targets.interTokenLatencyMillis = 60000;
        client.resource(md).create();

        // traffic on every shard, so that the latency windows and rates have something in them
        AtomicBoolean loading = new AtomicBoolean(true);
        CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
            for (int i = 0; loading.get(); i++) {
                try {
                    post("http://127.0.0.1:" + (servePort + i % 4) + "/v1/completions", "{\"prompt\":\"scrape\",\"max_tokens\":8}");
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }
        });
        try {
            await().atMost(TIMEOUT).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                var status = client.resources(ModelDeployment.class).inNamespace(PROM).withName("tiny").get().getStatus();
                assertThat(status).isNotNull();
                AutoscalingStatus s = status.autoscaling;
                assertThat(s).isNotNull();
                assertThat(s.source).isEqualTo("prometheus: " + url);
                assertThat(s.measuredGroups).isEqualTo(1);
                assertThat(s.targets).hasSize(4).allSatisfy(t -> assertThat(t.current).as(t.name).isNotNull());
            });
            com.fasterxml.jackson.databind.JsonNode dashboard = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    TestCluster.REPO.resolve("helm/nuri-operator/files/grafana-dashboard.json").toFile());
            List<String> exprs = new ArrayList<>();
            dashboard.path("panels").forEach(p -> p.path("targets").forEach(t -> exprs.add(t.path("expr").asText())));
            assertThat(exprs).hasSizeGreaterThanOrEqualTo(9);
            for (String expr : exprs) {
                String q = expr.replace("$namespace", PROM).replace("$deployment", "tiny").replace("$__rate_interval", "1m");
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(2)).untilAsserted(() -> {
                    HttpResponse<String> r = get(url + "/api/v1/query?query=" + java.net.URLEncoder.encode(q, java.nio.charset.StandardCharsets.UTF_8));
                    assertThat(r.statusCode()).as(q + ": " + r.body()).isEqualTo(200);
                    assertThat(r.body()).as(q).contains("\"deployment\":\"tiny\"").doesNotContain("\"NaN\"");
                });
            }
            // the alert rules' expressions run on the same series (what fires when is promtool's test: AlertRulesTest)
            HttpResponse<String> max = get(url + "/api/v1/query?query=" + java.net.URLEncoder.encode(
                    "nuri_operator_autoscaling_max_groups{namespace=\"" + PROM + "\"}", java.nio.charset.StandardCharsets.UTF_8));
            assertThat(max.body()).contains("\"deployment\":\"tiny\"").contains(",\"2\"]");
            String rules = Files.readString(TestCluster.REPO.resolve("helm/nuri-operator/files/prometheus-rules.yaml"));
            var m = java.util.regex.Pattern.compile("expr: (?:\\|\\n\\s+)?(.+)").matcher(rules);
            int checked = 0;
            while (m.find()) {
                HttpResponse<String> r = get(url + "/api/v1/query?query=" + java.net.URLEncoder.encode(m.group(1).strip(),
                        java.nio.charset.StandardCharsets.UTF_8));
                assertThat(r.statusCode()).as(m.group(1) + ": " + r.body()).isEqualTo(200);
                checked++;
            }
            assertThat(checked).isEqualTo(4);
        } finally {
            loading.set(false);
            load.get(2, TimeUnit.MINUTES);
        }
    }

    /** Debian's Prometheus on loopback, scraping the local shards as pods tiny-g0-i of PROM, and the operator. */
    static int startPrometheus() throws Exception {
        String bin = TestCluster.run(List.of(TestCluster.REPO.resolve("hack/prometheus.sh").toString()), TestCluster.REPO)
                .assertSuccess().stdout().strip();
        Path dir = Files.createTempDirectory("nuri-prometheus");
        int port = servePort + 20;
        StringBuilder config = new StringBuilder("""
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                scrape_configs:
                  - job_name: operator
                    honor_labels: true
                    static_configs: [{targets: ['127.0.0.1:%d']}]
                  - job_name: workers
                    static_configs:
                """.formatted(operator.httpPort()));
        for (int i = 0; i < 4; i++) {
            config.append("      - {targets: ['127.0.0.1:%d'], labels: {namespace: %s, pod: tiny-g0-%d, deployment: tiny}}\n"
                    .formatted(servePort + i, PROM, i));
        }
        Files.writeString(dir.resolve("prometheus.yml"), config);
        Path log = dir.resolve("prometheus.log");
        prometheus = new ProcessBuilder(Path.of(bin, "prometheus").toString(), "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
            if (!prometheus.isAlive()) throw new AssertionError("prometheus exited:\n" + Files.readString(log));
            try {
                return get("http://127.0.0.1:" + port + "/-/ready").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
        return port;
    }

    static List<String> endpointPods(String namespace) {
        return client.discovery().v1().endpointSlices().inNamespace(namespace).withLabel("kubernetes.io/service-name", "tiny")
                .list().getItems().stream().flatMap(s -> s.getEndpoints() == null ? java.util.stream.Stream.empty() : s.getEndpoints().stream())
                .filter(e -> e.getTargetRef() != null && e.getConditions() != null && Boolean.TRUE.equals(e.getConditions().getReady()))
                .map(e -> e.getTargetRef().getName()).toList();
    }

    static double metric(int port, String name) throws Exception {
        return get("http://127.0.0.1:" + port + "/metrics").body().lines().filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
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
