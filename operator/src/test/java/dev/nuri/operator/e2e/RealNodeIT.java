package dev.nuri.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.AutoscalingSpec;
import dev.nuri.operator.api.v1alpha1.BatchSpec;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.api.v1alpha1.ModelSource;
import dev.nuri.operator.api.v1alpha1.RolloutSpec;
import dev.nuri.operator.api.v1alpha1.ServingSpec;
import dev.nuri.operator.autoscaling.ScalingDecision;
import dev.nuri.operator.shard.ShardLabels;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
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
    static void tearDown() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
        for (Path dir : hostVolumes) { // what the pods wrote there is the pods' user's; the test runs as root
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
            }
        }
    }

    @Test
    @Order(1)
    void tinyServesThroughItsServiceAsALocalGroupDoes() throws Exception {
        client.resource(tiny()).create();

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
        // Partial sums are added in shard order (FourShardGroupTest), but each JVM's JIT can still
        // change the last bits of a vector sum and so flip a near-tie of the random tiny model's
        // logits. Each pod is compared with the local shard of its index; the Service's answer must
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

    /**
     * Batch work as a user runs it (docs/batch.md), against the deployment of the first test. First
     * examples/batch/run-batch-job.yaml as it is but for the image tag: its claim binds to a volume of the
     * test's (hack/cluster has no provisioner), the test puts requests.jsonl in it, and the Job runs
     * {@code nuri-worker run-batch} in a pod of its own, through the deployment's Service, to completion:
     * out.jsonl holds one OpenAI batch output line per input line, and the teacher file names them. Then
     * the Files and Batch API of one shard pod, whose state lives in that pod's own folder of the
     * {@code spec.batch.storage} claim.
     */
    @Test
    @Order(2)
    void aBatchRunsAsTheExamplesJobThroughTheServiceAndThroughAShardsBatchApi() throws Exception {
        if (deployment().get() == null) client.resource(tiny()).create(); // run alone
        awaitRolledOut(1);

        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 6; i++) lines.add(batchLine("job-" + i, i % 2 == 0 ? "/v1/chat/completions" : "/v1/completions"));
        Path jobVolume = hostVolume(JOB_CLAIM, "ReadWriteOnce");
        Files.write(jobVolume.resolve("requests.jsonl"), lines);
        var example = client.load(Files.newInputStream(REPO.resolve("examples/batch/run-batch-job.yaml"))).items();
        var claim = (io.fabric8.kubernetes.api.model.PersistentVolumeClaim) example.stream()
                .filter(o -> o instanceof io.fabric8.kubernetes.api.model.PersistentVolumeClaim).findFirst().orElseThrow();
        var job = (io.fabric8.kubernetes.api.model.batch.v1.Job) example.stream()
                .filter(o -> o instanceof io.fabric8.kubernetes.api.model.batch.v1.Job).findFirst().orElseThrow();
        assertThat(claim.getMetadata().getName()).isEqualTo(JOB_CLAIM);
        // the image the operator gave the shards (the example names :latest, which the node has not imported)
        job.getSpec().getTemplate().getSpec().getContainers().getFirst()
                .setImage(shardPods().getFirst().getSpec().getContainers().getFirst().getImage());
        var jobs = client.batch().v1().jobs().inNamespace(NS);
        java.time.Instant jobStart = java.time.Instant.now(), jobDone;
        try {
            client.persistentVolumeClaims().inNamespace(NS).resource(claim).create();
            jobs.resource(job).create();
            await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(500)).until(() -> {
                var status = jobs.withName(job.getMetadata().getName()).get().getStatus();
                boolean restarted = client.pods().inNamespace(NS).withLabel("job-name", job.getMetadata().getName()).list().getItems()
                        .stream().flatMap(p -> p.getStatus().getContainerStatuses().stream()).anyMatch(c -> c.getRestartCount() > 0);
                if (restarted || status != null && status.getFailed() != null && status.getFailed() > 0) {
                    throw new AssertionError("the Job's run-batch failed: " + jobLog(job.getMetadata().getName()));
                }
                return status != null && status.getConditions() != null && status.getConditions().stream()
                        .anyMatch(c -> "Complete".equals(c.getType()) && "True".equals(c.getStatus()));
            });
            jobDone = java.time.Instant.now();
            String log = jobLog(job.getMetadata().getName());
            List<String> out = Files.readAllLines(jobVolume.resolve("out.jsonl")).stream().filter(l -> !l.isBlank()).toList();
            assertThat(out).as("out.jsonl; the Job's log:\n" + log).hasSize(lines.size());
            assertBatchOutput(out, lines);
            var teacher = safetensorsMetadata(jobVolume.resolve("teacher.safetensors"));
            assertThat(teacher.path("format").asText()).isEqualTo("nuri-teacher-v1");
            assertThat(JSON.readTree(teacher.path("custom_ids").asText())).as("the teacher file's custom_ids")
                    .extracting(com.fasterxml.jackson.databind.JsonNode::asText)
                    .containsExactlyInAnyOrderElementsOf(customIds(lines));
        } finally {
            jobs.withName(job.getMetadata().getName()).withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND).delete();
            client.persistentVolumeClaims().inNamespace(NS).withName(JOB_CLAIM).delete();
        }

        // A shard's Files and Batch API: the file, the batch and its output in the pod's folder of the claim.
        java.time.Instant apiStart = java.time.Instant.now();
        Pod shard = groupPods(0).getFirst();
        List<String> apiLines = new ArrayList<>();
        for (int i = 0; i < 4; i++) apiLines.add(batchLine("api-" + i, "/v1/chat/completions"));
        HttpResponse<String> file = uploadBatchFile(podUrl(shard), String.join("\n", apiLines));
        assertThat(file.statusCode()).as(file.body()).isEqualTo(200);
        HttpResponse<String> created = post(podUrl(shard) + "/v1/batches", """
                {"input_file_id":"%s","endpoint":"/v1/chat/completions","completion_window":"24h"}"""
                .formatted(JSON.readTree(file.body()).path("id").asText()));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
        String batchId = JSON.readTree(created.body()).path("id").asText();
        com.fasterxml.jackson.databind.JsonNode[] batch = {null};
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).until(() -> {
            batch[0] = JSON.readTree(get(podUrl(shard) + "/v1/batches/" + batchId).body());
            assertThat(batch[0].path("status").asText()).as(batch[0].toString()).isNotIn("failed", "cancelled", "expired");
            return "completed".equals(batch[0].path("status").asText());
        });
        assertThat(batch[0].path("request_counts").path("completed").asInt()).as(batch[0].toString()).isEqualTo(apiLines.size());
        String content = get(podUrl(shard) + "/v1/files/" + batch[0].path("output_file_id").asText() + "/content").body();
        assertBatchOutput(content.lines().filter(l -> !l.isBlank()).toList(), apiLines);
        Path onTheVolume = shardBatchVolume.resolve(shard.getMetadata().getName()).resolve("batches").resolve(batchId).resolve("output.jsonl");
        assertThat(onTheVolume).as("the batch's output in the pod's folder of the spec.batch.storage claim").exists();
        assertThat(Files.readString(onTheVolume)).isEqualTo(content);
        System.out.printf(java.util.Locale.ROOT, "batch on the real node: the Job %.1f s from its creation to Complete (%d requests); "
                + "a shard's Batch API %.1f s from the upload to the output read (%d requests)%n",
                secs(jobStart, jobDone), lines.size(), secs(apiStart, java.time.Instant.now()), apiLines.size());
    }

    @Test
    @Order(3)
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

        // The deleted shard serves its group while it drains (preStop, then until no peer calls it:
        // these requests keep calling it, so up to the drain time); once it is gone a surviving shard
        // answers 503 with an OpenAI error, fast, while its group is incomplete.
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
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
        assertThat(again.statusCode()).as(() -> again.body() + "\nthe surviving shard's peer links:\n" + peerLog(survivor)).isEqualTo(200);
    }

    /** A shard's log lines about its peer links (the kubelet's log), for a failure message. */
    static String peerLog(Pod pod) {
        try {
            return client.pods().inNamespace(NS).withName(pod.getMetadata().getName()).getLog().lines()
                    .filter(l -> l.contains("peer")).collect(java.util.stream.Collectors.joining("\n"));
        } catch (RuntimeException e) {
            return "(no log: " + e + ")";
        }
    }

    @Test
    @Order(4)
    void kubectlScaleAddsAServingGroupThenRemovesItWhileTheOtherFinishesItsRequests() throws Exception {
        cluster.kubectl("scale", "md/" + NAME, "-n", NS, "--replicas=2").assertSuccess();
        awaitRolledOut(2);
        for (int g = 0; g < 2; g++) {
            HttpResponse<String> r = post(podUrl(groupPods(g).getFirst()) + "/v1/completions", SHORT);
            assertThat(r.statusCode()).as("group %d: %s", g, r.body()).isEqualTo(200);
        }

        // Streams in flight on group 0 (headers received) while group 1 is removed.
        List<CompletableFuture<HttpResponse<Stream<String>>>> inFlight = new ArrayList<>();
        for (Pod p : groupPods(0)) {
            inFlight.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(podUrl(p) + "/v1/completions"))
                    .timeout(Duration.ofMinutes(3)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(LONG_STREAM)).build(), HttpResponse.BodyHandlers.ofLines()));
        }
        List<HttpResponse<Stream<String>>> streams = new ArrayList<>();
        for (var f : inFlight) streams.add(f.get(2, TimeUnit.MINUTES));
        cluster.kubectl("scale", "md/" + NAME, "-n", NS, "--replicas=1").assertSuccess();
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250)).until(() ->
                groupPods(1).isEmpty() && client.apps().statefulSets().inNamespace(NS).withName(NAME + "-g1").get() == null);
        for (HttpResponse<Stream<String>> stream : streams) {
            assertThat(stream.statusCode()).isEqualTo(200);
            List<String> events = stream.body().filter(l -> l.startsWith("data: ")).toList();
            assertThat(events).as("a stream on the remaining group").last().isEqualTo("data: [DONE]");
            assertThat(events).noneMatch(e -> e.contains("\"error\""));
            assertThat(events).as("every token streamed").anyMatch(e -> e.contains("\"completion_tokens\":" + LONG_TOKENS));
        }
        awaitRolledOut(1);
    }

    @Test
    @Order(5)
    void aTemplateChangeRollsGroupByGroupAndReadyHoldsWhileEnoughGroupsServe() throws Exception {
        cluster.kubectl("scale", "md/" + NAME, "-n", NS, "--replicas=2").assertSuccess();
        awaitRolledOut(2);

        // maxUnavailableGroups 1 (the default): one group moves at a time, the other serves.
        String first = deployment().get().getStatus().updateRevision;
        try (ServingWatch watch = ServingWatch.start()) {
            TestCluster.editAsAUser(deployment(), md -> {
                md.getSpec().serving = md.getSpec().serving == null ? new ServingSpec() : md.getSpec().serving;
                md.getSpec().serving.maxSequences = 48;
            });
            await().atMost(Duration.ofMinutes(2)).until(() -> !first.equals(deployment().get().getStatus().updateRevision));
            awaitRolledOut(2);
            watch.assertServedThroughout(1);
            assertThat(watch.mostGroupsOutOfService()).as("groups out of service at once").isEqualTo(1);
        }

        // maxUnavailableGroups 0, maxSurgeGroups 1: a third group comes first; both old groups serve
        // until it is ready, so Ready never turns False (what an alert on Ready must see).
        String second = deployment().get().getStatus().updateRevision;
        try (ServingWatch watch = ServingWatch.start()) {
            TestCluster.editAsAUser(deployment(), md -> {
                md.getSpec().rollout = new RolloutSpec();
                md.getSpec().rollout.maxUnavailableGroups = 0;
                md.getSpec().rollout.maxSurgeGroups = 1;
                md.getSpec().serving.maxSequences = 40;
            });
            await().atMost(Duration.ofMinutes(2)).until(() -> !second.equals(deployment().get().getStatus().updateRevision));
            awaitRolledOut(2);
            watch.assertServedThroughout(2);
            assertThat(watch.maxGroups()).as("the surge group existed").isEqualTo(3);
        }
        cluster.kubectl("scale", "md/" + NAME, "-n", NS, "--replicas=1").assertSuccess();
        awaitRolledOut(1);
    }

    @Test
    @Order(6)
    void aGroupWithoutRoomIsPendingWithTheSchedulersReason() {
        ModelDeployment md = client.resources(ModelDeployment.class)
                .load(REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
        md.getMetadata().setName("roomless");
        md.getMetadata().setNamespace(NS);
        md.getSpec().resources.getRequests().put("cpu", new Quantity("64"));
        client.resource(md).create();
        try {
            var roomless = client.resources(ModelDeployment.class).inNamespace(NS).withName("roomless");
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> {
                ModelDeployment m = roomless.get();
                assertThat(m.getStatus()).isNotNull();
                assertThat(m.getStatus().groups).singleElement().satisfies(g -> {
                    assertThat(g.state).isEqualTo("Pending");
                    assertThat(g.message).contains("Insufficient cpu");
                });
                assertThat(conditionObject(m, ModelDeploymentStatus.DEGRADED).getReason()).isEqualTo("Unschedulable");
                assertThat(condition(m, ModelDeploymentStatus.READY)).contains("False");
            });
        } finally {
            client.resources(ModelDeployment.class).inNamespace(NS).withName("roomless").delete();
        }
    }

    /**
     * An http model source from a file server of the test's own on the pod bridge: the worker image's
     * fetch-model downloads and checks the archive; a wrong digest ends in Degraded with both digests.
     */
    @Test
    @Order(7)
    void anHttpModelSourceLoadsAndAWrongDigestIsDegradedWithBothDigests() throws Exception {
        byte[] archive = goldenModelArchive();
        String digest = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(archive));
        String bridge = URI.create(client.getMasterUrl().toString()).getHost(); // the API server listens on the pod bridge
        HttpServer files = HttpServer.create(new InetSocketAddress(bridge, 0), 0);
        files.createContext("/axk1-golden.tar", exchange -> {
            exchange.sendResponseHeaders(200, archive.length);
            exchange.getResponseBody().write(archive);
            exchange.close();
        });
        files.start();
        String url = "http://" + bridge + ":" + files.getAddress().getPort() + "/axk1-golden.tar";
        try {
            client.resource(httpSourced("fetched", url, digest)).create();
            String wrong = "0".repeat(64);
            client.resource(httpSourced("badsum", url, wrong)).create();

            var fetched = client.resources(ModelDeployment.class).inNamespace(NS).withName("fetched");
            await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
                    assertThat(condition(fetched.get(), ModelDeploymentStatus.READY)).contains("True"));
            Pod shard = client.pods().inNamespace(NS).withLabel(ShardLabels.DEPLOYMENT, "fetched").list().getItems().getFirst();
            HttpResponse<String> r = post(podUrl(shard) + "/v1/completions",
                    "{\"model\":\"axk1-golden\",\"prompt\":[1,40,50,60,70],\"max_tokens\":6,\"temperature\":0,\"ignore_eos\":true}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).contains("\"completion_tokens\":6");

            var badsum = client.resources(ModelDeployment.class).inNamespace(NS).withName("badsum");
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                Condition degraded = conditionObject(badsum.get(), ModelDeploymentStatus.DEGRADED);
                assertThat(degraded).isNotNull();
                assertThat(degraded.getReason()).isEqualTo("ModelFetchFailed");
                assertThat(degraded.getMessage()).contains("the model download failed: the archive at " + url
                        + " has SHA-256 " + digest + ", but spec.model.source.http.sha256 is " + wrong);
            });
            assertThat(condition(badsum.get(), ModelDeploymentStatus.READY)).contains("False");
        } finally {
            files.stop(0);
            for (String name : List.of("fetched", "badsum")) {
                client.resources(ModelDeployment.class).inNamespace(NS).withName(name).delete();
            }
        }
    }

    /**
     * The built-in autoscaler on real pods: the chart's operator reads the shards' /metrics, open-loop
     * load from {@code nuri-worker load} through the Service raises the queue past its target, a second
     * group comes up and serves requests through the Service; once only a trickle is left the group
     * leaves the Service, finishes what it has and goes after the scale-down window. Not one request
     * fails across both changes. Prints the times docs/benchmarks.md quotes (breach to serving).
     */
    @Test
    @Order(8)
    void theAutoscalerAddsAGroupUnderLoadAndDrainsItWhenIdleWithoutAFailedRequest() throws Exception {
        // A deployment of its own, so the test also runs alone (-Dit.test='RealNodeIT#theAutoscaler*').
        ModelDeployment md = oneSequencePerShard();
        md.getSpec().autoscaling = autoscaling(QUEUE_TARGET, 0, SCALE_DOWN_WINDOW);
        replaceDeployment(md);
        String service = serviceUrl();

        // Load above one group's capacity; the test watches group 0's queue itself for the breach.
        LoadDriver heavy = LoadDriver.start(service, 4.0, 40, "32:64"); // above one group at 100m on an idle machine too
        List<Pod> group0 = groupPods(0);
        java.time.Instant[] breach = {null};
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250)).until(() -> {
            if (breach[0] == null && waiting(group0) > QUEUE_BREACH) breach[0] = java.time.Instant.now();
            return replicas() == 2;
        });
        java.time.Instant scaleUpSeen = java.time.Instant.now();
        assertThat(breach[0]).as("the queue seen above its target before the scale-up").isNotNull();
        await().atMost(Duration.ofMinutes(12)).pollInterval(Duration.ofMillis(250))
                .until(() -> groupPods(1).size() == 4 && groupPods(1).stream().allMatch(RealNodeIT::ready));
        java.time.Instant serving = java.time.Instant.now();
        assertThat(events("ScaledUp")).singleElement().satisfies(e -> assertThat(e.getMessage()).startsWith("groups 1 -> 2").contains("queueLength"));
        LoadDriver.Summary heavySummary = heavy.await();

        // A trickle, each request on a new connection (kube-proxy picks a group per connection): group 1
        // takes some of it, then leaves the Service after the window, while no request fails.
        List<Pod> group1 = groupPods(1);
        List<String> failures = new CopyOnWriteArrayList<>();
        int[] sent = {0};
        double[] servedByGroup1 = {0};
        java.time.Instant[] lastAbove = {java.time.Instant.now()};
        java.time.Instant[] scaledDown = {null};
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(500)).until(() -> {
            sent[0]++;
            try {
                HttpResponse<String> r = postOnNewConnection(service + "/v1/completions", SHORT);
                if (r.statusCode() != 200) failures.add(r.statusCode() + " " + r.body());
            } catch (IOException e) {
                failures.add(e.toString());
            }
            var s = deployment().get().getStatus().autoscaling;
            if (s.targets != null && s.targets.stream().anyMatch(t -> t.current != null && Double.parseDouble(t.current) > QUEUE_BREACH)) {
                lastAbove[0] = java.time.Instant.now();
            }
            if (scaledDown[0] == null) {
                servedByGroup1[0] = Math.max(servedByGroup1[0], requestsServed(group1));
                if (replicas() == 1) scaledDown[0] = java.time.Instant.now();
            }
            return scaledDown[0] != null && client.apps().statefulSets().inNamespace(NS).withName(NAME + "-g1").get() == null;
        });
        java.time.Instant groupGone = java.time.Instant.now();

        System.out.printf(java.util.Locale.ROOT, """
                autoscaler on the real node (queueLength target %d, scale-down window %d s):
                  load: %s
                  queue over target -> spec.replicas 2 seen: %.1f s; -> group 1 serving: %.1f s
                  trickle: %d requests, %d failed; group 1 served %.0f
                  queue last over target -> scale-down: %.1f s; scale-down -> group 1's StatefulSet gone: %.1f s
                """, QUEUE_TARGET, SCALE_DOWN_WINDOW, heavySummary.line(), secs(breach[0], scaleUpSeen), secs(breach[0], serving),
                sent[0], failures.size(), servedByGroup1[0], secs(lastAbove[0], scaledDown[0]), secs(scaledDown[0], groupGone));
        assertThat(heavySummary.failed()).as("failed requests while scaling up: " + heavySummary.line()).isZero();
        assertThat(heavySummary.ok()).isPositive();
        assertThat(failures).as("failed requests while scaling down").isEmpty();
        assertThat(servedByGroup1[0]).as("requests group 1 served through the Service").isPositive();
        // the status shows an evaluation up to one interval (15 s) after it ran
        assertThat(secs(lastAbove[0], scaledDown[0])).as("no scale-down within the window after the queue was last over target")
                .isGreaterThanOrEqualTo(SCALE_DOWN_WINDOW - 16);
        assertThat(events("ScaledDown")).singleElement().satisfies(e -> assertThat(e.getMessage()).startsWith("groups 2 -> 1"));
        assertThat(deployment().get().getStatus().autoscaling.desiredReplicas).isEqualTo(1);
    }

    /**
     * The same 1 -> 2 -> 1 driven by an HPA through the scale subresource: Debian's Prometheus scrapes
     * the worker pods, prometheus-adapter (built from its Go module) serves their queue as an external
     * metric through the API server's aggregation layer, and the kube-controller-manager's HPA
     * controller writes spec.replicas (examples/hpa/). The queue comes from a closed loop of more
     * requests than the group decodes at once, so its depth does not depend on the machine's speed (an
     * open-loop rate that queued on the loaded machine did not scale on an idle one: docs/testing.md).
     */
    @Test
    @Order(9)
    @Tag("real-node-autoscale") // not in hack/test: see docs/testing.md
    void anHpaOnThePrometheusAdaptersExternalMetricAddsAGroupAndRemovesItWhenIdle() throws Exception {
        java.time.Instant start = java.time.Instant.now();
        if (deployment().get() == null) {
            client.resource(oneSequencePerShard()).create();
        } else if (deployment().get().getSpec().autoscaling != null) {
            // the built-in autoscaler off: the HPA alone writes spec.replicas (a merge patch: the operator writes too)
            deployment().patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                    "{\"spec\":{\"autoscaling\":{\"enabled\":false}}}");
        }
        awaitRolledOut(1);
        assertThat(deployment().get().getSpec().serving.maxSequences()).as("sequences each shard decodes at once").isEqualTo(1);
        var hpas = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(NS);
        try (ExternalMetric metric = ExternalMetric.serve()) {
            var hpa = hpas.load(REPO.resolve("examples/hpa/hpa.yaml").toFile()).item();
            // the example waits 300 s of low queue before it removes a group (one is expensive to start
            // again); here the HPA removes it at its first sync that sees the queue below target
            hpa.getSpec().getBehavior().getScaleDown().setStabilizationWindowSeconds(0);
            java.time.Instant loaded, scaledUp, scaledDown, groupGone;
            double perGroup;
            String loadSummary;
            try (QueueLoad load = QueueLoad.start(serviceUrl(), HPA_CLIENTS)) {
                loaded = java.time.Instant.now();
                hpa = hpas.resource(hpa).create();
                awaitReplicas(2, metric, load);
                scaledUp = java.time.Instant.now();
                var status = hpas.withName(NAME).get().getStatus();
                assertThat(status.getCurrentMetrics()).as(hpaState(metric)).singleElement()
                        .satisfies(m -> assertThat(m.getExternal().getMetric().getName()).isEqualTo("nuri_num_requests_waiting"));
                perGroup = status.getCurrentMetrics().getFirst().getExternal().getCurrent().getAverageValue().getNumericalAmount().doubleValue();
                assertThat(perGroup).as("waiting requests per group the HPA saw: " + hpaState(metric)).isGreaterThan(2.0 * 1.1);
                loadSummary = load.summary();
            } // the loop stops and its requests are cancelled: the queue empties
            java.time.Instant unloaded = java.time.Instant.now();
            awaitReplicas(1, metric, null);
            scaledDown = java.time.Instant.now();
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500))
                    .until(() -> client.apps().statefulSets().inNamespace(NS).withName(NAME + "-g1").get() == null);
            groupGone = java.time.Instant.now();
            String uid = hpa.getMetadata().getUid();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
                    assertThat(client.v1().events().inNamespace(NS).list().getItems().stream()
                            .filter(e -> uid.equals(e.getInvolvedObject().getUid()) && "SuccessfulRescale".equals(e.getReason()))
                            .map(io.fabric8.kubernetes.api.model.Event::getMessage))
                            .as("the HPA's rescale events").anySatisfy(m -> assertThat(m).startsWith("New size: 2; reason: external metric nuri_num_requests_waiting"))
                            .anySatisfy(m -> assertThat(m).isEqualTo("New size: 1; reason: All metrics below target")));
            System.out.printf(java.util.Locale.ROOT, """
                    HPA on the real node (%d requests in a closed loop, examples/hpa/hpa.yaml with a 0 s scale-down window):
                      load: %s
                      load -> spec.replicas 2: %.1f s (%.1f waiting per group against 2); load stopped -> spec.replicas 1: %.1f s; -> group 1's StatefulSet gone: %.1f s
                      test: %.1f s
                    """, HPA_CLIENTS, loadSummary, secs(loaded, scaledUp), perGroup, secs(unloaded, scaledDown), secs(scaledDown, groupGone),
                    secs(start, java.time.Instant.now()));
        } finally {
            hpas.withName(NAME).delete();
        }
    }

    /**
     * The built-in autoscaler as docs/autoscaling.md configures it (queueLength 4, so no change up to 5
     * waiting, the target + one request; the default 30 s up and 300 s down windows; 1 to 2 groups) on a
     * noisy plateau at its target: a closed loop of 8 clients through the Service (4 decode, about 4
     * wait) whose count moves at random (seeded) between 7 and 9 every 10 to 20 s for 5 minutes. The
     * goal is no scale action and no
     * failed request. Prints the queue the autoscaler read (status.autoscaling) and the one the test
     * read from the pods, step by step (docs/benchmarks.md quotes them).
     */
    @Test
    @Order(10)
    @Tag("real-node-autoscale") // 6-7 min: by hand, not in hack/test (docs/benchmarks.md)
    void aNoisyPlateauAtTheQueueTargetTakesNoScaleAction() throws Exception {
        ModelDeployment md = oneSequencePerShard();
        md.getSpec().autoscaling = autoscaling(PLATEAU_QUEUE_TARGET, AutoscalingSpec.DEFAULT_SCALE_UP_STABILIZATION_SECONDS,
                AutoscalingSpec.DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS);
        String uid = replaceDeployment(md).getMetadata().getUid();
        List<Pod> group0 = groupPods(0);
        int centre = 4 + PLATEAU_QUEUE_TARGET; // 4 shards decode one request each, the others wait
        java.util.Random noise = new java.util.Random(PLATEAU_SEED);
        List<Double> statusQueue = new ArrayList<>(); // sampled every second: time-weighted
        List<Double> podQueue = new ArrayList<>();
        // per shard of group 0, summed over the samples: requests decoding, requests waiting
        double[][] perShard = new double[group0.size()][2];
        int[] shardSamples = {0};
        int[] mostReplicas = {1};
        // the longest time the autoscaler's reading stayed over its band (what a scale-up needs for 30 s)
        double band = ScalingDecision.upperBound(ScalingDecision.Target.QUEUE_LENGTH, PLATEAU_QUEUE_TARGET);
        // the autoscaler's readings as they changed ("+45 5": from 45 s on it read 5), for ScalingDecisionTest
        StringBuilder readings = new StringBuilder();
        double[] lastReading = {Double.NaN};
        java.time.Instant[] aboveSince = {null};
        double[] longestAbove = {0};
        StringBuilder steps = new StringBuilder();
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).strip();
        java.time.Instant start = java.time.Instant.now();
        java.time.Instant end = start.plus(PLATEAU);
        String loadSummary;
        int failed;
        try (QueueLoad load = QueueLoad.start(serviceUrl(), centre)) {
            int clients = centre;
            while (java.time.Instant.now().isBefore(end)) {
                java.time.Instant stepStart = java.time.Instant.now();
                java.time.Instant stepEnd = java.util.Collections.min(List.of(stepStart.plusSeconds(10 + noise.nextInt(11)), end));
                List<Double> stepStatus = new CopyOnWriteArrayList<>(), stepPods = new CopyOnWriteArrayList<>();
                await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                    ModelDeployment now = deployment().get();
                    mostReplicas[0] = Math.max(mostReplicas[0], now.getSpec().replicas());
                    var targets = now.getStatus().autoscaling == null ? null : now.getStatus().autoscaling.targets;
                    Optional.ofNullable(targets).flatMap(ts -> ts.stream().filter(t -> "queueLength".equals(t.name) && t.current != null)
                            .findFirst()).map(t -> Double.parseDouble(t.current)).ifPresent(q -> {
                                stepStatus.add(q);
                                java.time.Instant at = java.time.Instant.now();
                                if (q != lastReading[0]) {
                                    readings.append(String.format(java.util.Locale.ROOT, " +%.0f %s", secs(start, at), ScalingDecision.format(q)));
                                    lastReading[0] = q;
                                }
                                if (q <= band) aboveSince[0] = null;
                                else if (aboveSince[0] == null) aboveSince[0] = at;
                                else longestAbove[0] = Math.max(longestAbove[0], secs(aboveSince[0], at));
                            });
                    try {
                        double[][] shards = new double[group0.size()][];
                        for (int i = 0; i < shards.length; i++) {
                            shards[i] = metrics(group0.get(i), "nuri_num_requests_running", "nuri_num_requests_waiting");
                        }
                        stepPods.add(java.util.Arrays.stream(shards).mapToDouble(m -> m[1]).sum());
                        for (int i = 0; i < shards.length; i++) {
                            perShard[i][0] += shards[i][0];
                            perShard[i][1] += shards[i][1];
                        }
                        shardSamples[0]++;
                    } catch (IOException e) { // a /metrics read that failed: this second has no pod reading
                    }
                    return !java.time.Instant.now().isBefore(stepEnd);
                });
                statusQueue.addAll(stepStatus);
                podQueue.addAll(stepPods);
                steps.append(String.format(java.util.Locale.ROOT, "    +%3.0f s  %d clients  autoscaler's queue %s  pods' queue %s%n",
                        secs(start, stepStart), clients, minMeanMax(stepStatus), minMeanMax(stepPods)));
                clients = centre - 1 + noise.nextInt(3);
                load.resize(clients);
            }
            loadSummary = load.summary();
            failed = load.failed.get();
        }
        String loadAfter = Files.readString(Path.of("/proc/loadavg")).strip();
        List<String> actions = client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> uid.equals(e.getInvolvedObject().getUid()) && List.of("ScaledUp", "ScaledDown").contains(e.getReason()))
                .map(e -> "+" + sinceStart(start, e) + " s " + e.getReason() + ": " + e.getMessage()).toList();
        System.out.printf(java.util.Locale.ROOT, """
                noisy plateau on the real node (queueLength target %d, windows %d s up / %d s down, %d +- 1 clients, seed %d, %.0f s):
                %s  autoscaler's queue per group (status.autoscaling, each second) min/mean/max %s; longest over %s: %.0f s
                  autoscaler's readings as they changed (s after the start, per group):%s
                  pods' queue (group 0, each second) min/mean/max %s; per shard, mean decoding/waiting: %s
                  load: %s
                  scale actions: %d %s; most spec.replicas seen: %d
                  load average (/proc/loadavg) before: %s; after: %s
                """, PLATEAU_QUEUE_TARGET, AutoscalingSpec.DEFAULT_SCALE_UP_STABILIZATION_SECONDS,
                AutoscalingSpec.DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS, centre, PLATEAU_SEED, secs(start, java.time.Instant.now()),
                steps, minMeanMax(statusQueue), ScalingDecision.format(band), longestAbove[0], readings, minMeanMax(podQueue),
                java.util.Arrays.stream(perShard).map(m -> String.format(java.util.Locale.ROOT, "%.2f/%.2f",
                        m[0] / shardSamples[0], m[1] / shardSamples[0])).toList(), loadSummary, actions.size(), actions,
                mostReplicas[0], loadBefore, loadAfter);
        assertThat(actions).as("ScaledUp/ScaledDown Events over the plateau").isEmpty();
        assertThat(mostReplicas[0]).as("most spec.replicas over the plateau").isEqualTo(1);
        assertThat(failed).as("failed requests: " + loadSummary).isZero();
        // a pass means something only if the plateau sat at the target
        assertThat(statusQueue.stream().mapToDouble(Double::doubleValue).average().orElseThrow())
                .as("mean queue the autoscaler read").isBetween(PLATEAU_QUEUE_TARGET * 0.75, PLATEAU_QUEUE_TARGET * 1.25);
    }

    /** When an Event was recorded, in seconds after {@code start}; "?" without a time. */
    static String sinceStart(java.time.Instant start, io.fabric8.kubernetes.api.model.Event e) {
        String at = e.getLastTimestamp() != null ? e.getLastTimestamp() : e.getEventTime() != null ? e.getEventTime().getTime() : null;
        try {
            return at == null ? "?" : String.format(java.util.Locale.ROOT, "%.0f", secs(start, java.time.Instant.parse(at)));
        } catch (java.time.format.DateTimeParseException ex) {
            return "? (" + at + ")";
        }
    }

    /** docs/autoscaling.md's example target. */
    static final int PLATEAU_QUEUE_TARGET = 4;
    static final Duration PLATEAU = Duration.ofMinutes(5);
    static final long PLATEAU_SEED = 13;

    static String minMeanMax(List<Double> values) {
        var stats = values.stream().mapToDouble(Double::doubleValue).summaryStatistics();
        return values.isEmpty() ? "-" : String.format(java.util.Locale.ROOT, "%.1f/%.2f/%.1f", stats.getMin(), stats.getAverage(), stats.getMax());
    }

    /** More requests than one group decodes at once (4 shards x maxSequences 1): at least 8 wait, 4 per group at 2 groups. */
    static final int HPA_CLIENTS = 12;

    static void awaitReplicas(int groups, ExternalMetric metric, QueueLoad load) {
        Duration atMost = Duration.ofMinutes(2); // two HPA syncs (5 s each on hack/cluster) are enough; generous for a loaded machine
        try {
            await().atMost(atMost).pollInterval(Duration.ofMillis(500)).until(() -> replicas() == groups);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("spec.replicas not " + groups + " within " + atMost + "; " + hpaState(metric)
                    + (load != null ? "; load: " + load.summary() : ""), e);
        }
    }

    /** What the HPA saw and decided, and the metric it reads as it is now: the message when a scale does not come. */
    static String hpaState(ExternalMetric metric) {
        var h = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(NS).withName(NAME).get();
        String now;
        try {
            now = metric.read();
        } catch (RuntimeException e) {
            now = e.toString();
        }
        return "HPA status: " + (h == null ? "no HPA" : io.fabric8.kubernetes.client.utils.Serialization.asJson(h.getStatus()))
                + "; the external metric now: " + now;
    }

    /**
     * Prometheus scraping the shard pods, prometheus-adapter serving their queue as the external metric
     * nuri_num_requests_waiting, registered with the API server's aggregation layer; unregistered and
     * stopped on close.
     */
    record ExternalMetric(java.util.concurrent.ScheduledExecutorService discovery, HostProcess prometheus, HostProcess adapter,
                          Path registration) implements AutoCloseable {
        static final String PATH = "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + NS + "/nuri_num_requests_waiting?labelSelector=deployment%3D" + NAME;

        static ExternalMetric serve() throws IOException {
            String bridge = URI.create(client.getMasterUrl().toString()).getHost(); // the API server listens on the pod bridge
            Path targets = Files.createTempDirectory("nuri-targets").resolve("pods.json");
            HostProcess.discover(targets);
            var discovery = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
            discovery.scheduleWithFixedDelay(() -> {
                try {
                    HostProcess.discover(targets);
                } catch (RuntimeException e) { // an API server hiccup: the next second writes them
                }
            }, 1, 1, TimeUnit.SECONDS);
            HostProcess prometheus = null, adapter = null;
            try {
                prometheus = HostProcess.prometheus(targets);
                adapter = HostProcess.adapter(bridge, prometheus.port());
                // the API server reaches the adapter through a Service without selector whose endpoint is the adapter on the bridge
                Path registration = Files.createTempFile("nuri-adapter", ".yaml");
                Files.writeString(registration, """
                        apiVersion: v1
                        kind: Service
                        metadata: {name: prometheus-adapter, namespace: %1$s}
                        spec: {ports: [{name: https, port: %2$d}]}
                        ---
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: prometheus-adapter, namespace: %1$s, labels: {kubernetes.io/service-name: prometheus-adapter}}
                        addressType: IPv4
                        endpoints: [{addresses: ["%3$s"]}]
                        ports: [{name: https, port: %2$d}]
                        ---
                        apiVersion: apiregistration.k8s.io/v1
                        kind: APIService
                        metadata: {name: v1beta1.external.metrics.k8s.io}
                        spec:
                          group: external.metrics.k8s.io
                          version: v1beta1
                          service: {name: prometheus-adapter, namespace: %1$s, port: %2$d}
                          insecureSkipTLSVerify: true
                          groupPriorityMinimum: 100
                          versionPriority: 100
                        """.formatted(SYSTEM, adapter.port(), bridge));
                cluster.kubectl("apply", "-f", registration.toString()).assertSuccess();
                ExternalMetric metric = new ExternalMetric(discovery, prometheus, adapter, registration);
                await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                        assertThat(cluster.kubectl("get", "--raw", PATH).assertSuccess().stdout()).contains("\"metricName\":\"nuri_num_requests_waiting\""));
                return metric;
            } catch (RuntimeException | Error | IOException e) {
                discovery.shutdownNow();
                for (HostProcess p : new HostProcess[] {adapter, prometheus}) {
                    if (p != null) p.process().destroyForcibly();
                }
                throw e;
            }
        }

        /** The metric's value as the HPA reads it. */
        String read() {
            String json = cluster.kubectl("get", "--raw", PATH).assertSuccess().stdout();
            Matcher m = Pattern.compile("\"value\":\"([^\"]+)\"").matcher(json);
            return m.find() ? m.group(1) : json;
        }

        @Override
        public void close() throws Exception {
            cluster.kubectl("delete", "--ignore-not-found", "-f", registration.toString());
            discovery.shutdownNow();
            adapter.close();
            prometheus.close();
        }
    }

    /**
     * A closed loop of {@code clients} requests through the Service, each sent again as soon as it is
     * answered. The group decodes one sequence per shard at a time, so all but four of them wait in its
     * queue however fast the machine is. Closing it cancels those in flight (a worker cancels a request
     * whose connection closes).
     */
    static final class QueueLoad implements AutoCloseable {
        final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        final java.util.concurrent.ExecutorService loops = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        final java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        final java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        final List<String> firstFailures = new CopyOnWriteArrayList<>();
        /** One flag per client loop still wanted; a loop whose flag is cleared stops once its request is answered. */
        final java.util.Deque<java.util.concurrent.atomic.AtomicBoolean> clients = new java.util.ArrayDeque<>();
        final HttpRequest request;

        QueueLoad(String service) {
            request = HttpRequest.newBuilder(URI.create(service + "/v1/completions")).timeout(Duration.ofMinutes(5))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("""
                            {"model":"tiny-axk1","prompt":"%s","max_tokens":32,"ignore_eos":true}""".formatted(PROMPT))).build();
        }

        static QueueLoad start(String service, int clients) {
            QueueLoad load = new QueueLoad(service);
            load.resize(clients);
            return load;
        }

        /** Adds client loops, or lets the newest ones stop after their current request (none is cancelled). */
        synchronized void resize(int count) {
            while (clients.size() < count) {
                var wanted = new java.util.concurrent.atomic.AtomicBoolean(true);
                clients.push(wanted);
                loops.submit(() -> loop(wanted));
            }
            while (clients.size() > count) clients.pop().set(false);
        }

        void loop(java.util.concurrent.atomic.AtomicBoolean wanted) {
            while (running.get() && wanted.get()) {
                try {
                    HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        answered.incrementAndGet();
                        continue;
                    }
                    failed(r.statusCode() + " " + r.body());
                } catch (IOException e) {
                    if (running.get()) failed(e.toString());
                } catch (InterruptedException e) {
                    return;
                }
                try {
                    TimeUnit.MILLISECONDS.sleep(200); // a client's back-off after a failure
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        void failed(String why) {
            if (failed.incrementAndGet() <= 3) firstFailures.add(why);
        }

        String summary() {
            return answered + " answered, " + failed + " failed" + (firstFailures.isEmpty() ? "" : " " + firstFailures);
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            http.shutdownNow();
            loops.shutdownNow();
            if (!loops.awaitTermination(1, TimeUnit.MINUTES)) throw new AssertionError("the load's clients did not stop");
            http.close();
        }
    }

    // --- helpers ---------------------------------------------------------------------------------

    static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    /** The claim of examples/batch/run-batch-job.yaml. */
    static final String JOB_CLAIM = "tiny-batch";
    /** The claim of the deployment's spec.batch.storage. */
    static final String SHARD_BATCH_CLAIM = "tiny-batches";
    /** The folders on this machine behind the test's PersistentVolumes, removed after the class. */
    static final List<Path> hostVolumes = new CopyOnWriteArrayList<>();
    static Path shardBatchVolume;

    /**
     * examples/tiny-cpu.yaml in the test namespace, at 100m CPU a shard (the real node has two CPUs: room
     * for a second group and a surge group), keeping its Files and Batch API state in a claim
     * (spec.batch.storage.pvc; ReadWriteMany: each shard pod has its own folder in it).
     */
    static ModelDeployment tiny() throws IOException {
        ModelDeployment md = client.resources(ModelDeployment.class)
                .load(REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
        md.getSpec().resources.getRequests().put("cpu", new Quantity("100m"));
        md.getMetadata().setNamespace(NS);
        if (client.persistentVolumeClaims().inNamespace(NS).withName(SHARD_BATCH_CLAIM).get() == null) {
            shardBatchVolume = hostVolume(SHARD_BATCH_CLAIM, "ReadWriteMany");
            client.persistentVolumeClaims().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder()
                    .withNewMetadata().withName(SHARD_BATCH_CLAIM).endMetadata()
                    .withNewSpec().withAccessModes("ReadWriteMany")
                    .withNewResources().addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).create();
        }
        md.getSpec().batch = new BatchSpec();
        md.getSpec().batch.storage = new BatchSpec.Storage();
        md.getSpec().batch.storage.pvc = new BatchSpec.Pvc();
        md.getSpec().batch.storage.pvc.claimName = SHARD_BATCH_CLAIM;
        return md;
    }

    /**
     * A PersistentVolume on a new folder of this machine (the real node), set aside for the claim
     * {@code claim} of the test namespace: what a provisioner gives a claim on a real cluster. A hostPath
     * volume gets no fsGroup ownership change, so the folder is open to the pods' user.
     */
    static Path hostVolume(String claim, String accessMode) throws IOException {
        Path dir = Files.createTempDirectory("nuri-pv-" + claim);
        hostVolumes.add(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        client.persistentVolumes().resource(new io.fabric8.kubernetes.api.model.PersistentVolumeBuilder()
                .withNewMetadata().withName(NS + "-" + claim).endMetadata()
                .withNewSpec().addToCapacity("storage", new Quantity("1Gi")).withAccessModes(accessMode)
                .withPersistentVolumeReclaimPolicy("Retain")
                .withNewHostPath().withPath(dir.toString()).withType("Directory").endHostPath()
                .withNewClaimRef().withNamespace(NS).withName(claim).endClaimRef()
                .endSpec().build()).create();
        return dir;
    }

    /** One line of an OpenAI batch input file: a short request to the tiny model. */
    static String batchLine(String customId, String url) {
        String body = url.endsWith("chat/completions")
                ? "{\"model\":\"tiny-axk1\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":6}"
                : "{\"model\":\"tiny-axk1\",\"prompt\":\"%s\",\"max_tokens\":6}";
        return "{\"custom_id\":\"%s\",\"method\":\"POST\",\"url\":\"%s\",\"body\":%s}"
                .formatted(customId, url, body.formatted(PROMPT + " " + customId));
    }

    static List<String> customIds(List<String> inputLines) throws IOException {
        List<String> ids = new ArrayList<>();
        for (String l : inputLines) ids.add(JSON.readTree(l).path("custom_id").asText());
        return ids;
    }

    /** OpenAI's batch output: one line per input line, each a 200 with the endpoint's answer and no error. */
    static void assertBatchOutput(List<String> output, List<String> input) throws IOException {
        var urls = new java.util.HashMap<String, String>();
        for (String l : input) urls.put(JSON.readTree(l).path("custom_id").asText(), JSON.readTree(l).path("url").asText());
        List<String> answered = new ArrayList<>();
        for (String line : output) {
            var r = JSON.readTree(line);
            String id = r.path("custom_id").asText();
            answered.add(id);
            assertThat(r.path("id").asText()).as(line).startsWith("batch_req_");
            assertThat(r.path("error").isNull()).as("error of " + line).isTrue();
            assertThat(r.path("response").path("status_code").asInt()).as(line).isEqualTo(200);
            assertThat(r.path("response").path("request_id").asText()).as(line).startsWith("batch_req_");
            var body = r.path("response").path("body");
            assertThat(body.path("object").asText()).as(line)
                    .isEqualTo(urls.get(id).endsWith("chat/completions") ? "chat.completion" : "text_completion");
            assertThat(body.path("choices")).as(line).hasSize(1);
            assertThat(body.path("usage").path("completion_tokens").asInt()).as(line).isBetween(1, 6);
        }
        assertThat(answered).as("custom_ids answered").containsExactlyInAnyOrderElementsOf(urls.keySet());
    }

    /** The __metadata__ of a safetensors file (an 8-byte little-endian header length, then the JSON header). */
    static com.fasterxml.jackson.databind.JsonNode safetensorsMetadata(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        return JSON.readTree(new String(bytes, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8)).path("__metadata__");
    }

    /** POST /v1/files: a batch input file as multipart form data, as OpenAI's client sends it. */
    static HttpResponse<String> uploadBatchFile(String url, String jsonl) throws IOException, InterruptedException {
        String boundary = "nuri-" + java.util.UUID.randomUUID();
        String body = """
                --%1$s\r
                Content-Disposition: form-data; name="purpose"\r
                \r
                batch\r
                --%1$s\r
                Content-Disposition: form-data; name="file"; filename="requests.jsonl"\r
                Content-Type: application/jsonl\r
                \r
                %2$s\r
                --%1$s--\r
                """.formatted(boundary, jsonl);
        return HTTP.send(HttpRequest.newBuilder(URI.create(url + "/v1/files")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The log of a Job's pods (the kubelet's), for a failure message. */
    static String jobLog(String job) {
        try {
            return client.pods().inNamespace(NS).withLabel("job-name", job).list().getItems().stream()
                    .map(p -> p.getMetadata().getName() + " " + p.getStatus().getPhase() + ":\n"
                            + client.pods().inNamespace(NS).withName(p.getMetadata().getName()).getLog())
                    .collect(java.util.stream.Collectors.joining("\n"));
        } catch (RuntimeException e) {
            return "(no log: " + e + ")";
        }
    }

    static final String SHORT = """
            {"model":"tiny-axk1","prompt":"%s","max_tokens":4,"temperature":0}""".formatted(PROMPT);
    static final int LONG_TOKENS = 160;
    static final String LONG_STREAM = """
            {"model":"tiny-axk1","prompt":"%s","max_tokens":%d,"ignore_eos":true,"stream":true,
             "stream_options":{"include_usage":true}}""".formatted(PROMPT, LONG_TOKENS);

    static final int QUEUE_TARGET = 2;
    /** Over this the autoscaler asks for another group (3: one request per group above the target). */
    static final double QUEUE_BREACH = ScalingDecision.upperBound(ScalingDecision.Target.QUEUE_LENGTH, QUEUE_TARGET);
    static final int SCALE_DOWN_WINDOW = 30;

    static int replicas() {
        return deployment().get().getSpec().replicas();
    }

    /**
     * examples/tiny-cpu.yaml at 100m CPU per shard, each shard decoding one request at a time: a closed
     * loop of n clients keeps about n - 4 waiting per group, however fast the machine is.
     */
    static ModelDeployment oneSequencePerShard() {
        ModelDeployment md = client.resources(ModelDeployment.class).load(REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
        md.getMetadata().setNamespace(NS);
        md.getSpec().resources.getRequests().put("cpu", new Quantity("100m"));
        md.getSpec().serving = new ServingSpec();
        md.getSpec().serving.maxSequences = 1;
        return md;
    }

    /** The built-in autoscaler on a queueLength target, 1 to 2 groups. */
    static AutoscalingSpec autoscaling(int queueTarget, int scaleUpWindow, int scaleDownWindow) {
        AutoscalingSpec a = new AutoscalingSpec();
        a.enabled = true;
        a.maxReplicas = 2;
        a.scaleUpStabilizationSeconds = scaleUpWindow;
        a.scaleDownStabilizationSeconds = scaleDownWindow;
        a.targets = new AutoscalingSpec.Targets();
        a.targets.queueLength = queueTarget;
        return a;
    }

    /** Deletes the test deployment, creates {@code md} in its place and waits until it serves and its autoscaler has read it. */
    static ModelDeployment replaceDeployment(ModelDeployment md) {
        client.resources(ModelDeployment.class).inNamespace(NS).withName(NAME).delete();
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500))
                .until(() -> deployment().get() == null && shardPods().isEmpty());
        ModelDeployment created = client.resource(md).create();
        awaitRolledOut(1);
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).until(() -> {
            var s = deployment().get().getStatus().autoscaling;
            return s != null && s.measuredGroups != null && s.measuredGroups == 1;
        });
        return created;
    }

    static List<io.fabric8.kubernetes.api.model.Event> events(String reason) {
        return client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> reason.equals(e.getReason()) && NAME.equals(e.getInvolvedObject().getName())).toList();
    }

    /** Requests waiting for admission, summed over the shards (what queueLength measures per group). */
    static double waiting(List<Pod> group) throws IOException, InterruptedException {
        return sumMetric(group, "nuri_num_requests_waiting");
    }

    /** The named metrics of one shard, each summed over its label sets. */
    static double[] metrics(Pod pod, String... names) throws IOException, InterruptedException {
        HttpResponse<String> r = get(podUrl(pod) + "/metrics");
        if (r.statusCode() != 200) throw new IOException(pod.getMetadata().getName() + " /metrics: " + r.statusCode());
        var samples = dev.nuri.operator.autoscaling.PrometheusText.parse(r.body());
        double[] values = new double[names.length];
        for (int i = 0; i < names.length; i++) {
            String name = names[i];
            values[i] = samples.stream().filter(s -> s.name().equals(name))
                    .mapToDouble(dev.nuri.operator.autoscaling.PrometheusText.Sample::value).sum();
        }
        return values;
    }

    static double requestsServed(List<Pod> group) throws IOException, InterruptedException {
        return sumMetric(group, "nuri_request_success_total");
    }

    static double sumMetric(List<Pod> pods, String name) throws IOException, InterruptedException {
        double sum = 0;
        for (Pod p : pods) {
            HttpResponse<String> r = get(podUrl(p) + "/metrics");
            if (r.statusCode() != 200) continue;
            sum += dev.nuri.operator.autoscaling.PrometheusText.parse(r.body()).stream()
                    .filter(s -> s.name().equals(name)).mapToDouble(dev.nuri.operator.autoscaling.PrometheusText.Sample::value).sum();
        }
        return sum;
    }

    static double secs(java.time.Instant a, java.time.Instant b) {
        return Duration.between(a, b).toMillis() / 1000.0;
    }

    /** A request on a connection of its own: kube-proxy picks the backend per connection. */
    static HttpResponse<String> postOnNewConnection(String url, String json) throws IOException, InterruptedException {
        try (HttpClient once = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build()) {
            return once.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                    HttpResponse.BodyHandlers.ofString());
        }
    }

    /** A host process the test starts (Prometheus, prometheus-adapter), stopped on close. */
    record HostProcess(Process process, int port, Path log) implements AutoCloseable {

        /**
         * Debian's Prometheus on loopback, scraping the targets of a file. Debian builds it without
         * Kubernetes discovery, so the test writes the shard pods there ({@link #discover}) with the
         * labels a PodMonitor gives them.
         */
        static HostProcess prometheus(Path targets) throws IOException {
            String bin = TestCluster.run(List.of(REPO.resolve("hack/prometheus.sh").toString()), REPO).assertSuccess().stdout().strip();
            Path dir = Files.createTempDirectory("nuri-prometheus");
            Files.writeString(dir.resolve("prometheus.yml"), """
                    global: {scrape_interval: 1s}
                    scrape_configs:
                      - job_name: nuri-workers
                        file_sd_configs: [{files: ['%s'], refresh_interval: 1s}]
                    """.formatted(targets));
            int port = LocalServe.freePortRange(1);
            HostProcess p = start(List.of(Path.of(bin, "prometheus").toString(), "--config.file=" + dir.resolve("prometheus.yml"),
                    "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port), port, dir);
            p.awaitUp("http://127.0.0.1:" + port + "/-/ready");
            return p;
        }

        /** prometheus-adapter (hack/build-tools.sh --prometheus-adapter) on the bridge, where the API server can reach it. */
        static HostProcess adapter(String bridge, int prometheusPort) throws IOException {
            String bin = TestCluster.run(List.of(REPO.resolve("hack/build-tools.sh").toString(), "--prometheus-adapter"), REPO)
                    .assertSuccess().stdout().strip();
            Path dir = Files.createTempDirectory("nuri-adapter");
            String kc = cluster.kubeconfig().toString();
            int port = LocalServe.freePortRange(1);
            HostProcess p = start(List.of(Path.of(bin, "adapter").toString(), "--secure-port=" + port, "--bind-address=" + bridge,
                    "--cert-dir=" + dir, "--lister-kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
                    "--prometheus-url=http://127.0.0.1:" + prometheusPort + "/", "--metrics-relist-interval=5s",
                    "--config=" + REPO.resolve("examples/hpa/prometheus-adapter-config.yaml")), port, dir);
            p.awaitUp(null);
            return p;
        }

        /** The deployment's shard pods as Prometheus file discovery targets (written whole, then moved in place). */
        static void discover(Path targets) {
            try {
                StringBuilder json = new StringBuilder("[");
                for (Pod p : shardPods()) {
                    if (p.getStatus().getPodIP() == null) continue;
                    if (json.length() > 1) json.append(',');
                    json.append("{\"targets\":[\"%s:8000\"],\"labels\":{\"namespace\":\"%s\",\"pod\":\"%s\",\"deployment\":\"%s\"}}"
                            .formatted(p.getStatus().getPodIP(), NS, p.getMetadata().getName(), NAME));
                }
                Path tmp = Files.writeString(targets.resolveSibling(targets.getFileName() + ".tmp"), json.append(']'));
                Files.move(tmp, targets, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        static HostProcess start(List<String> command, int port, Path dir) throws IOException {
            Path log = dir.resolve("log");
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Runtime.getRuntime().addShutdownHook(new Thread(process::destroy)); // a test JVM stopped early leaves none behind
            return new HostProcess(process, port, log);
        }

        void awaitUp(String readyUrl) {
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500)).until(() -> {
                if (!process.isAlive()) throw new AssertionError(process.info().command().orElse("") + " exited:\n" + Files.readString(log));
                if (readyUrl == null) return Files.readString(log).contains("Serving securely");
                try {
                    return get(readyUrl).statusCode() == 200;
                } catch (IOException e) {
                    return false;
                }
            });
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }

    /** The worker jar's open-loop load driver ({@code nuri-worker load}) as a process. */
    record LoadDriver(Process process, Path output) {
        record Summary(int sent, int ok, int failed, String line) {}

        static LoadDriver start(String url, double rate, int seconds, String maxTokens) throws IOException {
            Path out = Files.createTempFile("nuri-load", ".log");
            String java = ProcessHandle.current().info().command().orElse("java");
            Process p = new ProcessBuilder(java, "-jar", REPO.resolve("runtime-image/target/nuri-worker.jar").toString(), "load",
                    "--url", url, "--rate", Double.toString(rate), "--duration", Integer.toString(seconds),
                    "--prompt-words", "8:32", "--max-tokens", maxTokens)
                    .redirectErrorStream(true).redirectOutput(out.toFile()).start();
            return new LoadDriver(p, out);
        }

        Summary await() throws Exception {
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError("load driver did not finish:\n" + Files.readString(output));
            }
            List<String> lines = Files.readAllLines(output);
            assertThat(process.exitValue()).as(String.join("\n", lines)).isZero();
            var json = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(lines.getLast(), java.util.Map.class);
            return new Summary(((Number) json.get("sent")).intValue(), ((Number) json.get("ok")).intValue(),
                    ((Number) json.get("failed")).intValue(), String.join(" | ", lines.subList(1, lines.size() - 1)));
        }
    }

    static List<Pod> groupPods(int group) {
        return shardPods().stream().filter(p -> Integer.toString(group).equals(p.getMetadata().getLabels().get(ShardLabels.GROUP)))
                .sorted(java.util.Comparator.comparing(p -> p.getMetadata().getName())).toList();
    }

    static String podUrl(Pod p) {
        return "http://" + p.getStatus().getPodIP() + ":8000";
    }

    /**
     * Every desired group serving at the current revision: what `kubectl rollout status` waits for.
     * Generous: a group's four JVMs load the model in about 30 s on an idle machine, several minutes
     * on a machine shared with other builds.
     */
    static void awaitRolledOut(int groups) {
        await().atMost(Duration.ofMinutes(12)).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
            ModelDeployment md = deployment().get();
            assertThat(md.getStatus()).as("status").isNotNull();
            assertThat(md.getStatus().observedGeneration).isEqualTo(md.getMetadata().getGeneration());
            assertThat(condition(md, ModelDeploymentStatus.PROGRESSING)).as(conditionObject(md, ModelDeploymentStatus.PROGRESSING)
                    .getMessage()).contains("False");
            assertThat(condition(md, ModelDeploymentStatus.READY)).contains("True");
            assertThat(md.getStatus().readyGroups).isEqualTo(groups + "/" + groups);
            assertThat(shardPods()).hasSize(4 * groups).allMatch(RealNodeIT::ready);
        });
    }

    /** A model folder (the kernels' golden A.X K1 checkpoint and the builtin tokenizer) as a tar archive. */
    static byte[] goldenModelArchive() throws IOException {
        Path golden = REPO.resolve("kernels/src/test/resources/golden/axk1-bf16");
        Path tokenizer = REPO.resolve("runtime-image/src/main/resources/dev/nuri/worker/builtin/tiny-axk1");
        var bytes = new java.io.ByteArrayOutputStream();
        try (var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(bytes)) {
            for (Path f : List.of(golden.resolve("config.json"), golden.resolve("model.safetensors"),
                    tokenizer.resolve("tokenizer.json"), tokenizer.resolve("tokenizer_config.json"))) {
                tar.putArchiveEntry(tar.createArchiveEntry(f.toFile(), f.getFileName().toString()));
                Files.copy(f, tar);
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    static ModelDeployment httpSourced(String name, String url, String sha256) {
        ModelDeployment md = client.resources(ModelDeployment.class)
                .load(REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
        md.getMetadata().setName(name);
        md.getMetadata().setNamespace(NS);
        md.getSpec().model.name = "axk1-golden";
        md.getSpec().model.source.builtin = null;
        md.getSpec().model.source.http = new ModelSource.HttpSource();
        md.getSpec().model.source.http.url = url;
        md.getSpec().model.source.http.sha256 = sha256;
        md.getSpec().experts.parallelism = 2;
        md.getSpec().resources.getRequests().put("cpu", new Quantity("100m"));
        return md;
    }

    /**
     * Watches, every 200 ms, how many groups serve (every shard pod Ready, as the kubelet's probes
     * say), the Ready condition, and a request through the Service.
     */
    static final class ServingWatch implements AutoCloseable {
        final java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        final List<Integer> servingGroups = new CopyOnWriteArrayList<>();
        final List<Integer> groupCounts = new CopyOnWriteArrayList<>();
        final List<String> readyFalse = new CopyOnWriteArrayList<>();
        final List<String> failedRequests = new CopyOnWriteArrayList<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();

        static ServingWatch start() {
            ServingWatch w = new ServingWatch();
            w.timer.scheduleWithFixedDelay(w::sample, 0, 200, TimeUnit.MILLISECONDS);
            return w;
        }

        void sample() {
            try {
                var byGroup = shardPods().stream().collect(java.util.stream.Collectors.groupingBy(
                        p -> p.getMetadata().getLabels().get(ShardLabels.GROUP)));
                int serving = (int) byGroup.values().stream()
                        .filter(pods -> pods.size() == 4 && pods.stream().allMatch(RealNodeIT::ready)).count();
                synchronized (this) {
                    groupCounts.add(byGroup.size());
                    servingGroups.add(serving);
                }
                Condition ready = conditionObject(deployment().get(), ModelDeploymentStatus.READY);
                if (ready != null && !"True".equals(ready.getStatus())) readyFalse.add(ready.getMessage());
                HttpResponse<String> r = post(serviceUrl() + "/v1/completions", SHORT);
                if (r.statusCode() != 200) failedRequests.add(r.statusCode() + " " + r.body());
            } catch (Exception | AssertionError e) {
                errors.add(e);
            }
        }

        void assertServedThroughout(int atLeast) {
            assertThat(servingGroups).as("samples").hasSizeGreaterThan(10);
            assertThat(servingGroups.stream().mapToInt(Integer::intValue).min().orElseThrow())
                    .as("fewest groups serving during the rollout").isGreaterThanOrEqualTo(atLeast);
            assertThat(readyFalse).as("Ready=False messages during the rollout").isEmpty();
            assertThat(failedRequests).as("requests through the Service during the rollout").isEmpty();
            assertThat(errors).as("errors while watching").isEmpty();
        }

        /** The most groups that existed but did not serve, in one sample. */
        int mostGroupsOutOfService() {
            int most = 0;
            for (int i = 0; i < Math.min(groupCounts.size(), servingGroups.size()); i++) {
                most = Math.max(most, groupCounts.get(i) - servingGroups.get(i));
            }
            return most;
        }

        int maxGroups() {
            return groupCounts.stream().mapToInt(Integer::intValue).max().orElseThrow();
        }

        @Override
        public void close() {
            timer.shutdownNow();
            try {
                timer.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }


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
                    "--placement-file", placementFile.toString(), "--exit-with-parent")
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
