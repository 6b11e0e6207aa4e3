package dev.nuri.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.testing.LocalControlPlane;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * End to end on a real node ({@code hack/cluster up --real-node}): the chart installs the locally
 * built operator image as a pod under Pod Security {@code restricted}, examples/tiny-cpu.yaml
 * becomes four worker containers that find their peers through the headless Service's DNS names,
 * and OpenAI requests through the deployment's Service (ClusterIP, kube-proxy) answer as a local
 * {@code hack/serve} group of the same model does. Runs alone with
 * {@code ./mvnw -pl operator -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=RealNodeIT}.
 */
@Tag("real-node")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RealNodeIT {

    static final String SYSTEM = "nuri-system";
    static final String NS = "e2e";
    static final String NAME = "tiny";
    static final String PROMPT = "The expert-parallel group answered";
    static final Path REPO = TestCluster.REPO;

    static LocalControlPlane cluster;
    static KubernetesClient client;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    @BeforeAll
    static void installOperator() {
        cluster = LocalControlPlane.startWithRealNode();
        client = cluster.client();
        // Worker and operator images on a base made here, imported into the node's containerd.
        boolean jars = Files.isRegularFile(REPO.resolve("operator/target/nuri-operator.jar"))
                && Files.isRegularFile(REPO.resolve("runtime-image/target/nuri-worker.jar"));
        List<String> images = new ArrayList<>(List.of(REPO.resolve("hack/images").toString(), "--local-base", "--node-import"));
        if (jars) images.add("--skip-build");
        TestCluster.run(images, REPO).assertSuccess();

        for (String ns : List.of(SYSTEM, NS)) {
            client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                    .addToLabels("pod-security.kubernetes.io/enforce", "restricted").endMetadata().build()).serverSideApply();
        }
        cluster.helm("install", "nuri", REPO.resolve("helm/nuri-operator").toString(), "-n", SYSTEM,
                "--set", "logFormat=text", "--wait", "--timeout", "5m").assertSuccess();
        assertThat(client.pods().inNamespace(SYSTEM).withLabel("app.kubernetes.io/name", "nuri-operator").list().getItems())
                .as("operator pods").singleElement()
                .satisfies(p -> assertThat(ready(p)).as("operator pod ready").isTrue());
    }

    @AfterAll
    static void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void tinyServesThroughItsServiceAsALocalGroupDoes() throws Exception {
        ModelDeployment md = client.resources(ModelDeployment.class)
                .load(REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
        // The real node has two CPUs: a smaller request leaves room for a second group and a surge group.
        md.getSpec().resources.getRequests().put("cpu", new Quantity("100m"));
        md.getMetadata().setNamespace(NS);
        client.resource(md).create();

        // Ready turns True only when every shard reports serving-ready (the pods' readiness probe).
        List<String> readyWhileAShardWasNot = new CopyOnWriteArrayList<>();
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(250)).until(() -> {
            boolean mdReady = condition(deployment().get(), ModelDeploymentStatus.READY).map("True"::equals).orElse(false);
            if (!mdReady) return false;
            List<Pod> pods = shardPods();
            pods.stream().filter(p -> !ready(p)).forEach(p -> readyWhileAShardWasNot.add(p.getMetadata().getName()));
            return pods.size() == 4;
        });
        assertThat(readyWhileAShardWasNot).as("shards not ready while the ModelDeployment said Ready").isEmpty();
        for (Pod p : shardPods()) {
            assertThat(p.getSpec().getContainers().getFirst().getImage()).isEqualTo("ghcr.io/nuri-dev/nuri-worker:0.1.0");
            assertThat(get("http://" + p.getStatus().getPodIP() + ":8000/health/ready").statusCode())
                    .as("%s /health/ready from the host", p.getMetadata().getName()).isEqualTo(200);
        }

        String body = """
                {"model":"tiny-axk1","prompt":"%s","max_tokens":12,"temperature":0,"seed":7}""".formatted(PROMPT);
        String service = serviceUrl();
        HttpResponse<String> inCluster = post(service + "/v1/completions", body);
        assertThat(inCluster.statusCode()).as(inCluster.body()).isEqualTo(200);
        String clusterText = completionText(inCluster.body());
        assertThat(clusterText).isNotEmpty();

        // The same expert placement as the pods: which shard holds which expert decides how expert
        // outputs are grouped into partial sums, and float sums grouped otherwise differ in the last
        // bits (enough to flip a near-tie of the random tiny model's logits).
        String placement = client.configMaps().inNamespace(NS).withName(NAME + "-placement").get().getData()
                .get("placement-" + deployment().get().getStatus().updateRevision + ".json");
        assertThat(placement).as("the pods' placement file").isNotNull();
        Path placementFile = Files.createTempFile("nuri-placement", ".json");
        Files.writeString(placementFile, placement);
        // The shard that takes a request adds its own experts' partial sum first, so the answer can
        // depend on which shard the Service picked (seen on a run: 8 equal tokens, then different
        // ones). Each pod is compared with the local shard of its index; the Service's answer must
        // be one of them.
        List<String> localAnswers = new ArrayList<>();
        try (LocalServe local = LocalServe.start(placementFile)) {
            for (int shard = 0; shard < 4; shard++) {
                HttpResponse<String> onLoopback = post(local.url(shard) + "/v1/completions", body);
                assertThat(onLoopback.statusCode()).as(onLoopback.body()).isEqualTo(200);
                localAnswers.add(completionText(onLoopback.body()));
            }
        }
        for (Pod p : shardPods()) {
            int shard = Integer.parseInt(p.getMetadata().getLabels().get("apps.kubernetes.io/pod-index"));
            HttpResponse<String> fromPod = post("http://" + p.getStatus().getPodIP() + ":8000/v1/completions", body);
            assertThat(fromPod.statusCode()).as(fromPod.body()).isEqualTo(200);
            assertThat(completionText(fromPod.body())).as("pod %s vs. hack/serve's shard %d", p.getMetadata().getName(), shard)
                    .isEqualTo(localAnswers.get(shard));
        }
        assertThat(localAnswers).as("completion through the Service vs. hack/serve's shards").contains(clusterText);

        // Streaming through the Service: the deltas add up to the same text, then [DONE].
        HttpResponse<String> stream = post(service + "/v1/completions", body.replace("}", ",\"stream\":true}"));
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        StringBuilder streamed = new StringBuilder();
        Matcher m = Pattern.compile("\"text\":\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(stream.body());
        while (m.find()) streamed.append(unescape(m.group(1)));
        assertThat(localAnswers).as("streamed through the Service vs. hack/serve's shards").contains(streamed.toString());
        assertThat(stream.body().strip()).endsWith("data: [DONE]");
    }

    @Test
    @Order(2)
    void aDeletedShardFailsRequestsFastThenTheGroupServesAgain() throws Exception {
        String body = """
                {"model":"tiny-axk1","prompt":"%s","max_tokens":4,"temperature":0}""".formatted(PROMPT);
        List<Pod> before = shardPods();
        Pod victim = before.stream().filter(p -> p.getMetadata().getName().endsWith("-1")).findFirst().orElseThrow();
        Pod survivor = before.stream().filter(p -> p.getMetadata().getName().endsWith("-0")).findFirst().orElseThrow();
        String survivorUrl = "http://" + survivor.getStatus().getPodIP() + ":8000";
        assertThat(post(survivorUrl + "/v1/completions", body).statusCode()).isEqualTo(200);

        List<String> degradedReasons = new CopyOnWriteArrayList<>();
        client.pods().inNamespace(NS).withName(victim.getMetadata().getName()).delete();

        // A surviving shard answers 503 with an OpenAI error, fast, while its group is incomplete.
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            long t0 = System.nanoTime();
            HttpResponse<String> r = post(survivorUrl + "/v1/completions", body);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
            assertThat(r.body()).contains("\"error\"", "\"type\"");
            assertThat(ms).as("time to the 503").isLessThan(2000);
        });
        // ... and the ModelDeployment says so, then recovers once the StatefulSet recreated the pod.
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(250)).until(() -> {
            ModelDeployment md = deployment().get();
            condition(md, ModelDeploymentStatus.DEGRADED).filter("True"::equals)
                    .ifPresent(s -> degradedReasons.add(conditionObject(md, ModelDeploymentStatus.DEGRADED).getReason()));
            return degradedReasons.contains("ShardLost")
                    && condition(md, ModelDeploymentStatus.READY).map("True"::equals).orElse(false)
                    && shardPods().stream().allMatch(RealNodeIT::ready);
        });
        assertThat(degradedReasons).as("Degraded reasons between the deletion and the recovery").contains("ShardLost");
        assertThat(condition(deployment().get(), ModelDeploymentStatus.DEGRADED)).contains("False");
        Pod recreated = client.pods().inNamespace(NS).withName(victim.getMetadata().getName()).get();
        assertThat(recreated.getMetadata().getUid()).isNotEqualTo(victim.getMetadata().getUid());
        HttpResponse<String> again = post(serviceUrl() + "/v1/completions", body);
        assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
    }

    // --- helpers ---------------------------------------------------------------------------------

    static Resource<ModelDeployment> deployment() {
        return client.resources(ModelDeployment.class).inNamespace(NS).withName(NAME);
    }

    static List<Pod> shardPods() {
        return client.pods().inNamespace(NS).withLabel("serving.nuri.dev/deployment", NAME).list().getItems();
    }

    static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static Optional<String> condition(ModelDeployment md, String type) {
        return Optional.ofNullable(conditionObject(md, type)).map(Condition::getStatus);
    }

    static Condition conditionObject(ModelDeployment md, String type) {
        if (md == null || md.getStatus() == null) return null;
        return md.getStatus().conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    }

    static String serviceUrl() {
        var svc = client.services().inNamespace(NS).withName(NAME).get();
        return "http://" + svc.getSpec().getClusterIP() + ":8000";
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String url, String json) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static String completionText(String json) {
        Matcher m = Pattern.compile("\"text\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        assertThat(m.find()).as("a choice's text in " + json).isTrue();
        return unescape(m.group(1));
    }

    static String unescape(String s) {
        return io.fabric8.kubernetes.client.utils.Serialization.unmarshal("\"" + s + "\"", String.class);
    }

    /** {@code hack/serve}: the same model as a group of local processes on loopback. */
    record LocalServe(Process process, int port) implements AutoCloseable {
        static LocalServe start(Path placementFile) throws IOException {
            int port = freePortRange(4);
            int peerPort = freePortRange(4);
            Path log = Files.createTempFile("nuri-serve", ".log");
            Process p = new ProcessBuilder(REPO.resolve("hack/serve").toString(), "--shards", "4",
                    "--port", Integer.toString(port), "--peer-port", Integer.toString(peerPort),
                    "--placement-file", placementFile.toString())
                    .directory(REPO.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            LocalServe serve = new LocalServe(p, port);
            try {
                await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).until(() -> {
                    if (!p.isAlive()) throw new AssertionError("hack/serve exited:\n" + Files.readString(log));
                    try {
                        return get(serve.url() + "/health/ready").statusCode() == 200;
                    } catch (IOException e) {
                        return false;
                    }
                });
            } catch (RuntimeException | Error e) {
                serve.close();
                throw e;
            }
            return serve;
        }

        /** The first of n free consecutive ports on loopback, below the ephemeral range. */
        static int freePortRange(int n) {
            for (int attempt = 0; attempt < 200; attempt++) {
                int first = 20000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(11000);
                boolean free = true;
                for (int i = 0; i < n && free; i++) {
                    try (var ignored = new java.net.ServerSocket(first + i, 1, java.net.InetAddress.getLoopbackAddress())) {
                        free = true;
                    } catch (IOException e) {
                        free = false;
                    }
                }
                if (free) return first;
            }
            throw new IllegalStateException("no free port range");
        }

        String url() {
            return url(0);
        }

        /** The HTTP port of shard i (hack/serve gives shard i port + i). */
        String url(int shard) {
            return "http://127.0.0.1:" + (port + shard);
        }

        @Override
        public void close() {
            List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
            all.add(process.toHandle());
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
}
