package dev.nuri.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import dev.nuri.operator.api.v1alpha1.SchedulingSpec;
import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The chart installed in namespaced mode into a namespace that enforces the restricted Pod
 * Security Standard; its ServiceAccount's rights are enough to run a ModelDeployment to Ready,
 * scale it and roll it, and no broader; upgrade and uninstall leave the user's ModelDeployments.
 */
@ExtendWith(KubernetesClusterExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NamespacedInstallTest {

    static final String SYSTEM = "nuri-helm-system";
    static final String TEAM = "nuri-helm-team";
    static final String OTHER = "nuri-helm-other";
    static final String RELEASE = "nuri-ns";
    static final String FULLNAME = RELEASE + "-nuri-operator";
    static final String SA = "system:serviceaccount:" + SYSTEM + ":" + FULLNAME;
    static final String CRD = "modeldeployments.serving.nuri.dev";
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    static TestCluster cluster;
    static KubernetesClient client;
    static String modelUid;

    @BeforeAll
    static void install(TestCluster c) {
        // skipped with its reason, not failed, where the lane cannot run it
        Assumptions.assumeTrue(c.canSimulateNodes(), "needs KWOK nodes to run the operator's and the model's pods");
        Chart.assumeHelm(c);
        cluster = c;
        client = c.client();
        namespace(SYSTEM, Map.of("pod-security.kubernetes.io/enforce", "restricted",
                "pod-security.kubernetes.io/warn", "restricted"));
        namespace(TEAM, Map.of());
        namespace(OTHER, Map.of());
        cluster.addNodes("cpu", 2, "helm-cpu");
        TestCluster.Result install = cluster.helm("install", RELEASE, Chart.DIR.toString(), "-n", SYSTEM,
                "--set", "watchNamespaces={" + TEAM + "}", "--set", Chart.KWOK_TOLERATION, "--wait", "--timeout", "90s")
                .assertSuccess();
        assertThat(install.stdout()).as("NOTES.txt").contains("It reconciles ModelDeployments in: " + TEAM);
        assertThat(install.stderr()).as("Pod Security warnings").doesNotContain("violate");
    }

    @AfterAll
    static void cleanUp() {
        if (cluster == null) return;
        cluster.helm("uninstall", RELEASE, "-n", SYSTEM, "--ignore-not-found");
        for (String ns : List.of(TEAM, OTHER, SYSTEM)) {
            client.namespaces().withName(ns).delete();
        }
    }

    @Test
    @Order(1)
    void operatorPodIsAdmittedAndReadyUnderRestrictedPodSecurity() {
        await().atMost(TIMEOUT).untilAsserted(() -> {
            Deployment d = client.apps().deployments().inNamespace(SYSTEM).withName(FULLNAME).get();
            assertThat(d.getStatus().getReadyReplicas()).isEqualTo(1);
        });
        assertThat(client.pods().inNamespace(SYSTEM).withLabel("app.kubernetes.io/instance", RELEASE).list().getItems())
                .singleElement().satisfies(p -> {
                    assertThat(p.getStatus().getPhase()).isEqualTo("Running");
                    assertThat(p.getSpec().getServiceAccountName()).isEqualTo(FULLNAME);
                });
        // The namespace really enforces the profile: a pod without the chart's settings is refused.
        Pod plain = new PodBuilder().withNewMetadata().withName("plain").endMetadata()
                .withNewSpec().addNewContainer().withName("c").withImage("busybox").endContainer().endSpec().build();
        assertThatThrownBy(() -> client.pods().inNamespace(SYSTEM).resource(plain).dryRun().create())
                .hasMessageContaining("violates PodSecurity \"restricted:latest\"");
    }

    @Test
    @Order(2)
    void serviceAccountRightsSufficeToReconcileScaleAndRollAModel() throws Exception {
        List<String> chartArgs = client.apps().deployments().inNamespace(SYSTEM).withName(FULLNAME).get()
                .getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs();
        try (ServiceAccountOperator operator = ServiceAccountOperator.start(cluster, SYSTEM, FULLNAME, chartArgs)) {
            int port = operator.httpPort();
            await().atMost(TIMEOUT).until(() -> readyz(port) == 200);

            ModelDeployment tiny = client.resources(ModelDeployment.class)
                    .load(TestCluster.REPO.resolve("examples/tiny-cpu.yaml").toFile()).item();
            tiny.getSpec().scheduling = new SchedulingSpec();
            tiny.getSpec().scheduling.tolerations = List.of(new TolerationBuilder().withKey("kwok.x-k8s.io/node")
                    .withOperator("Exists").withEffect("NoSchedule").build());
            modelUid = client.resources(ModelDeployment.class).inNamespace(TEAM).resource(tiny).create().getMetadata().getUid();
            Resource<ModelDeployment> model = client.resources(ModelDeployment.class).inNamespace(TEAM).withName("tiny");
            awaitReady(model, operator, "1/1");

            // Scaling up and down creates and deletes a group's StatefulSet.
            TestCluster.editAsAUser(model, md -> md.getSpec().replicas = 2);
            awaitReady(model, operator, "2/2");
            TestCluster.editAsAUser(model, md -> md.getSpec().replicas = 1);
            awaitReady(model, operator, "1/1");
            await().atMost(TIMEOUT).until(() -> client.apps().statefulSets().inNamespace(TEAM).withName("tiny-g1").get() == null);

            // A template change moves the group to a new revision (the operator drains it, then starts it again).
            String before = model.get().getStatus().updateRevision;
            TestCluster.editAsAUser(model, md -> md.getSpec().resources.getRequests().put("cpu", new Quantity("300m")));
            await().atMost(TIMEOUT).untilAsserted(() -> {
                ModelDeployment md = model.get();
                assertThat(md.getStatus().updateRevision).isNotEqualTo(before);
                assertThat(md.getStatus().groups).singleElement()
                        .satisfies(g -> assertThat(g.revision).isEqualTo(md.getStatus().updateRevision));
            });
            awaitReady(model, operator, "1/1");
            assertThat(client.pods().inNamespace(TEAM).withLabel("serving.nuri.dev/deployment", "tiny").list().getItems())
                    .extracting(Pod::getSpec).allSatisfy(s -> assertThat(s.getContainers().getFirst().getResources()
                            .getRequests().get("cpu")).isEqualTo(new Quantity("300m")));

            assertThat(operator.isAlive()).isTrue();
            assertThat(operator.log()).as("operator log").doesNotContainIgnoringCase("forbidden");
        }
    }

    @ParameterizedTest(name = "{0} {1} in {2}: {3}")
    @CsvSource(textBlock = """
            get,    modeldeployments.serving.nuri.dev,                 nuri-helm-team,   yes
            watch,  modeldeployments.serving.nuri.dev,                 nuri-helm-team,   yes
            patch,  modeldeployments.serving.nuri.dev/status,          nuri-helm-team,   yes
            create, statefulsets.apps,                                 nuri-helm-team,   yes
            delete, statefulsets.apps,                                 nuri-helm-team,   yes
            patch,  services,                                          nuri-helm-team,   yes
            create, configmaps,                                        nuri-helm-team,   yes
            create, secrets,                                           nuri-helm-team,   yes
            create, poddisruptionbudgets.policy,                       nuri-helm-team,   yes
            create, networkpolicies.networking.k8s.io,                 nuri-helm-team,   yes
            update, statefulsets.apps/scale,                           nuri-helm-team,   yes
            get,    persistentvolumeclaims,                            nuri-helm-team,   yes
            create, events,                                            nuri-helm-team,   yes
            patch,  leases.coordination.k8s.io,                        nuri-helm-system, yes
            update, leases.coordination.k8s.io,                        nuri-helm-system, yes
            get,    modeldeployments.serving.nuri.dev/scale,           nuri-helm-team,   yes
            update, modeldeployments.serving.nuri.dev/scale,           nuri-helm-team,   yes
            patch,  pods,                                              nuri-helm-team,   yes
            update, statefulsets.apps/status,                          nuri-helm-team,   no
            get,    secrets,                                           nuri-helm-team,   no
            list,   secrets,                                           nuri-helm-system, no
            update, secrets,                                           nuri-helm-team,   no
            create, secrets,                                           nuri-helm-system, no
            create, pods,                                              nuri-helm-team,   no
            delete, pods,                                              nuri-helm-team,   no
            create, pods/exec,                                         nuri-helm-team,   no
            create, deployments.apps,                                  nuri-helm-team,   no
            create, modeldeployments.serving.nuri.dev,                 nuri-helm-team,   no
            delete, modeldeployments.serving.nuri.dev,                 nuri-helm-team,   no
            patch,  modeldeployments.serving.nuri.dev,                 nuri-helm-team,   no
            update, services,                                          nuri-helm-team,   no
            delete, persistentvolumeclaims,                            nuri-helm-team,   no
            create, rolebindings.rbac.authorization.k8s.io,            nuri-helm-team,   no
            create, serviceaccounts/token,                             nuri-helm-system, no
            list,   modeldeployments.serving.nuri.dev,                 nuri-helm-other,  no
            create, statefulsets.apps,                                 nuri-helm-other,  no
            watch,  pods,                                              nuri-helm-other,  no
            create, leases.coordination.k8s.io,                        nuri-helm-team,   no
            list,   modeldeployments.serving.nuri.dev,                 *,                no
            delete, nodes,                                             -,                no
            list,   nodes,                                             -,                no
            create, clusterroles.rbac.authorization.k8s.io,            -,                no
            delete, customresourcedefinitions.apiextensions.k8s.io,    -,                no
            impersonate, users,                                        -,                no
            """)
    @Order(3)
    void serviceAccountIsGrantedNoMoreThanItNeeds(String verb, String resource, String namespace, String expected) {
        assertThat(AccessReview.canI(cluster, SA, verb, resource, namespace)).isEqualTo(expected);
    }

    @Test
    @Order(4)
    void upgradeKeepsModelDeployments() {
        String uid = modelUid();
        String masterKey = peerMasterKey();
        cluster.helm("upgrade", RELEASE, Chart.DIR.toString(), "-n", SYSTEM, "--reuse-values", "--set", "replicaCount=2",
                "--wait", "--timeout", "90s").assertSuccess();

        Deployment d = client.apps().deployments().inNamespace(SYSTEM).withName(FULLNAME).get();
        assertThat(d.getSpec().getReplicas()).isEqualTo(2);
        assertThat(client.policy().v1().podDisruptionBudget().inNamespace(SYSTEM).withName(FULLNAME).get()).isNotNull();
        assertThat(client.resources(ModelDeployment.class).inNamespace(TEAM).withName("tiny").get().getMetadata().getUid())
                .isEqualTo(uid);
        assertThat(peerMasterKey()).as("the peer master key, which the deployments' peer keys derive from").isEqualTo(masterKey);
    }

    @Test
    @Order(5)
    void uninstallLeavesTheCrdAndTheModelDeployments() {
        String uid = modelUid();
        cluster.helm("uninstall", RELEASE, "-n", SYSTEM, "--wait", "--timeout", "90s").assertSuccess();

        assertThat(client.apps().deployments().inNamespace(SYSTEM).withName(FULLNAME).get()).isNull();
        assertThat(client.serviceAccounts().inNamespace(SYSTEM).withName(FULLNAME).get()).isNull();
        assertThat(client.rbac().roles().inNamespace(TEAM).withName(FULLNAME).get()).isNull();
        assertThat(client.apiextensions().v1().customResourceDefinitions().withName(CRD).get()).isNotNull();
        ModelDeployment tiny = client.resources(ModelDeployment.class).inNamespace(TEAM).withName("tiny").get();
        assertThat(tiny.getMetadata().getUid()).isEqualTo(uid);
        StatefulSet group = client.apps().statefulSets().inNamespace(TEAM).withName("tiny-g0").get();
        assertThat(group).as("the model's group keeps serving without the operator").isNotNull();
        peerMasterKey();
    }

    /** helm.sh/resource-policy: keep, so that a reinstall derives the same peer keys for the deployments that stayed. */
    private static String peerMasterKey() {
        var secret = client.secrets().inNamespace(SYSTEM).withName(FULLNAME + "-peer-master").get();
        assertThat(secret).as("the operator's peer master key Secret").isNotNull();
        return secret.getData().get("master-key");
    }

    private static String modelUid() {
        assertThat(modelUid).as("ModelDeployment created by the reconcile test").isNotNull();
        return modelUid;
    }

    private static void awaitReady(Resource<ModelDeployment> model, ServiceAccountOperator operator, String groups) {
        await().atMost(TIMEOUT).untilAsserted(() -> {
            assertThat(operator.isAlive()).as("operator alive; log:\n%s", operator.log()).isTrue();
            ModelDeployment md = model.get();
            assertThat(md.getStatus()).as("status; operator log:\n%s", operator.log()).isNotNull();
            assertThat(md.getStatus().observedGeneration).isEqualTo(md.getMetadata().getGeneration());
            assertThat(md.getStatus().readyGroups).isEqualTo(groups);
            assertThat(md.getStatus().conditions).anySatisfy(c -> {
                assertThat(c.getType()).isEqualTo(ModelDeploymentStatus.READY);
                assertThat(c.getStatus()).isEqualTo("True");
            });
        });
    }

    private static int readyz(int port) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    static void namespace(String name, Map<String, String> labels) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels)
                .endMetadata().build()).serverSideApply();
    }
}
