package dev.nuri.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What the chart renders for each mode, and that bad values stop {@code helm install} with a clear message. */
@ExtendWith(KubernetesClusterExtension.class)
class ChartRenderTest {

    static final String NS = "nuri-system";
    static TestCluster cluster;

    @BeforeAll
    static void useCluster(TestCluster c) {
        Chart.assumeHelm(c);
        cluster = c;
    }

    @ParameterizedTest
    @ValueSource(strings = {"replicaCount=1", "watchNamespaces={team-a,team-b}",
            "replicaCount=2,metrics.serviceMonitor.enabled=true,logLevel=debug",
            "monitoring.podMonitor.enabled=true,monitoring.prometheusRule.enabled=true,monitoring.dashboard.enabled=true"})
    void lintPassesStrictly(String values) {
        cluster.helm("lint", "--strict", Chart.DIR.toString(), "--kube-version", Chart.KUBE_VERSION, "--namespace", NS,
                "--set", values).assertSuccess();
    }

    /** The PrometheusRule carries the very rules promtool checks (AlertRulesTest); the dashboard is the checked-in JSON. */
    @Test
    void monitoringObjectsCarryTheTestedRulesAndDashboard() throws Exception {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS, "monitoring.podMonitor.enabled=true",
                "monitoring.prometheusRule.enabled=true", "monitoring.dashboard.enabled=true");
        var yaml = new com.fasterxml.jackson.databind.ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
        var rule = objects.stream().filter(o -> o.getKind().equals("PrometheusRule")).findFirst().orElseThrow();
        com.fasterxml.jackson.databind.JsonNode ruleSpec =
                yaml.valueToTree(((io.fabric8.kubernetes.api.model.GenericKubernetesResource) rule).getAdditionalProperties().get("spec"));
        assertThat(ruleSpec).isEqualTo(yaml.readTree(Chart.DIR.resolve("files/prometheus-rules.yaml").toFile()));
        var monitor = (io.fabric8.kubernetes.api.model.GenericKubernetesResource) objects.stream()
                .filter(o -> o.getKind().equals("PodMonitor")).findFirst().orElseThrow();
        com.fasterxml.jackson.databind.JsonNode monitorSpec = yaml.valueToTree(monitor.getAdditionalProperties().get("spec"));
        assertThat(monitorSpec.at("/selector/matchLabels").toString())
                .contains("\"app.kubernetes.io/name\":\"nuri-worker\"");
        var dashboard = objects.stream().filter(o -> o instanceof io.fabric8.kubernetes.api.model.ConfigMap c && c.getData() != null
                && c.getData().containsKey("nuri.json")).map(o -> (io.fabric8.kubernetes.api.model.ConfigMap) o).findFirst().orElseThrow();
        assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(dashboard.getData().get("nuri.json")))
                .isEqualTo(new com.fasterxml.jackson.databind.ObjectMapper().readTree(Chart.DIR.resolve("files/grafana-dashboard.json").toFile()));
        assertThat(Chart.render(cluster, "nuri", NS)).as("off by default")
                .noneMatch(o -> o.getKind().equals("PrometheusRule") || o.getKind().equals("PodMonitor"));
    }

    @Test
    void namespacedModeGrantsRightsOnlyInTheWatchedNamespaces() {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS, "watchNamespaces={team-a,team-b}");

        assertThat(Chart.ofKind(objects, Role.class)).extracting(r -> r.getMetadata().getNamespace())
                .containsExactlyInAnyOrder("team-a", "team-b", NS);
        assertThat(Chart.ofKind(objects, RoleBinding.class)).allSatisfy(b -> assertThat(b.getSubjects())
                .singleElement().satisfies(s -> {
                    assertThat(s.getName()).isEqualTo("nuri-nuri-operator");
                    assertThat(s.getNamespace()).isEqualTo(NS);
                }));
        assertThat(Chart.ofKind(objects, ClusterRoleBinding.class)).isEmpty();
        // The only ClusterRoles are the ones that extend the built-in user roles, none bound to the operator.
        assertThat(Chart.ofKind(objects, ClusterRole.class)).allSatisfy(r -> assertThat(r.getMetadata().getLabels())
                .containsKey(r.getMetadata().getName().endsWith("-view")
                        ? "rbac.authorization.k8s.io/aggregate-to-view" : "rbac.authorization.k8s.io/aggregate-to-edit"));
        Role leaderElection = Chart.ofKind(objects, Role.class).stream()
                .filter(r -> r.getMetadata().getNamespace().equals(NS)).findFirst().orElseThrow();
        assertThat(leaderElection.getRules()).singleElement()
                .satisfies(rule -> assertThat(rule.getResources()).containsExactly("leases"));
        assertThat(operator(objects).getArgs())
                .contains("--namespaces=team-a,team-b", "--leader-election-namespace=" + NS);
    }

    @Test
    void clusterWideModeBindsOneClusterRole() {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS);

        ClusterRole role = Chart.ofKind(objects, ClusterRole.class).stream()
                .filter(r -> r.getMetadata().getName().equals("nuri-nuri-operator")).findFirst().orElseThrow();
        assertThat(role.getRules()).flatExtracting(PolicyRule::getResources)
                .contains("modeldeployments", "modeldeployments/status", "statefulsets", "pods")
                .doesNotContain("nodes", "*");
        // Secrets: create the peer key, nothing else; reading any Secret stays impossible
        assertThat(role.getRules()).filteredOn(r -> r.getResources().contains("secrets"))
                .singleElement().satisfies(r -> {
                    assertThat(r.getResources()).containsExactly("secrets");
                    assertThat(r.getVerbs()).containsExactly("create");
                });
        assertThat(role.getRules()).flatExtracting(PolicyRule::getVerbs).doesNotContain("*", "escalate", "bind", "impersonate");
        assertThat(Chart.one(objects, ClusterRoleBinding.class).getRoleRef().getName()).isEqualTo("nuri-nuri-operator");
        assertThat(Chart.ofKind(objects, Role.class)).extracting(r -> r.getMetadata().getName())
                .containsExactly("nuri-nuri-operator-leader-election");
        assertThat(operator(objects).getArgs()).noneMatch(a -> a.startsWith("--namespaces"))
                .contains("--leader-election-namespace=" + NS, "--worker-image=ghcr.io/nuri-dev/nuri-worker:0.1.0");
    }

    @Test
    void operatorPodMeetsTheRestrictedPodSecurityStandard() {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS);
        PodSpec pod = Chart.one(objects, Deployment.class).getSpec().getTemplate().getSpec();
        Container c = operator(objects);

        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(c.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(c.getVolumeMounts()).anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));
        assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
        // the operator was restarted by its liveness probe at load average ~60 (the 1 s default timeout): a loaded
        // node gets a generous timeout and a minute of silence before a restart
        assertThat(c.getLivenessProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(10);
        assertThat((long) c.getLivenessProbe().getFailureThreshold() * c.getLivenessProbe().getPeriodSeconds())
                .isGreaterThanOrEqualTo(60);
        assertThat(c.getReadinessProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(5);
        assertThat(c.getStartupProbe().getTimeoutSeconds()).isGreaterThanOrEqualTo(5);
        assertThat(c.getPorts()).singleElement().satisfies(p -> assertThat(p.getContainerPort()).isEqualTo(8080));
        assertThat(c.getArgs()).contains("--metrics-port=8080");
    }

    @Test
    void theOperatorReadsItsPeerMasterKeyFromAMountedSecretThatOutlivesTheRelease() {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS);
        io.fabric8.kubernetes.api.model.Secret master = Chart.one(objects, io.fabric8.kubernetes.api.model.Secret.class);
        assertThat(master.getMetadata().getName()).isEqualTo("nuri-nuri-operator-peer-master");
        assertThat(master.getMetadata().getAnnotations()).containsEntry("helm.sh/resource-policy", "keep");
        assertThat(java.util.Base64.getDecoder().decode(master.getData().get("master-key"))).hasSize(64);
        PodSpec pod = Chart.one(objects, Deployment.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getVolumes()).anySatisfy(v -> {
            assertThat(v.getName()).isEqualTo("peer-master");
            assertThat(v.getSecret().getSecretName()).isEqualTo(master.getMetadata().getName());
        });
        Container c = operator(objects);
        assertThat(c.getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo("peer-master");
            assertThat(m.getMountPath()).isEqualTo("/etc/nuri/peer-master");
            assertThat(m.getReadOnly()).isTrue();
        });
        assertThat(c.getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("NURI_PEER_MASTER_KEY_FILE");
            assertThat(e.getValue()).isEqualTo("/etc/nuri/peer-master/master-key");
        });
    }

    @Test
    void twoReplicasGetADisruptionBudgetAndSpreadOverNodes() {
        List<HasMetadata> single = Chart.render(cluster, "nuri", NS);
        assertThat(Chart.ofKind(single, PodDisruptionBudget.class)).isEmpty();

        List<HasMetadata> ha = Chart.render(cluster, "nuri", NS, "replicaCount=2");
        Deployment deployment = Chart.one(ha, Deployment.class);
        assertThat(deployment.getSpec().getReplicas()).isEqualTo(2);
        assertThat(deployment.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity()).isNotNull();
        assertThat(Chart.one(ha, PodDisruptionBudget.class).getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
    }

    @Test
    void metricsServiceAndOptionalServiceMonitorTargetTheMetricsPort() {
        List<HasMetadata> plain = Chart.render(cluster, "nuri", NS);
        assertThat(Chart.one(plain, Service.class).getSpec().getPorts()).singleElement()
                .satisfies(p -> assertThat(p.getTargetPort().getStrVal()).isEqualTo("metrics"));
        assertThat(Chart.ofKind(plain, GenericKubernetesResource.class)).noneMatch(r -> r.getKind().equals("ServiceMonitor"));

        List<HasMetadata> monitored = Chart.render(cluster, "nuri", NS, "metrics.serviceMonitor.enabled=true",
                "metrics.serviceMonitor.labels.release=prometheus");
        GenericKubernetesResource monitor = Chart.ofKind(monitored, GenericKubernetesResource.class).stream()
                .filter(r -> r.getKind().equals("ServiceMonitor")).findFirst().orElseThrow();
        assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "prometheus");
        assertThat(monitor.<String>get("spec", "endpoints", 0, "port")).isEqualTo("metrics");
    }

    @Test
    void helmTestPodAsksReadyzThroughTheMetricsService() {
        List<HasMetadata> objects = Chart.render(cluster, "nuri", NS, Chart.KWOK_TOLERATION);
        Pod test = Chart.one(objects, Pod.class);
        assertThat(test.getMetadata().getAnnotations()).containsEntry("helm.sh/hook", "test");
        assertThat(test.getSpec().getContainers().getFirst().getArgs())
                .contains("http://nuri-nuri-operator-metrics.nuri-system.svc:8080/readyz");
        assertThat(test.getSpec().getTolerations()).singleElement()
                .satisfies(t -> assertThat(t.getKey()).isEqualTo("kwok.x-k8s.io/node"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            replicaCount=0                  | at '/replicaCount': minimum: got 0, want 1
            watchNamespaces={Team_A}        | at '/watchNamespaces/0': 'Team_A' does not match pattern
            watchNamespaces={a,a}           | at '/watchNamespaces': items at 0 and 1 are equal
            metrics.port=80                 | at '/metrics/port': minimum: got 80, want 1,024
            replicas=2                      | additional properties 'replicas' not allowed
            logLevel=verbose                | at '/logLevel': value must be one of 'trace', 'debug', 'info', 'warn', 'error'
            image.pullPolicy=Sometimes      | at '/image/pullPolicy': value must be one of
            image.digest=abc                | at '/image/digest': 'abc' does not match pattern
            serviceAccount.create=false     | serviceAccount.name must name an existing ServiceAccount
            """)
    void badValuesAreRejectedNamingTheValue(String values, String message) {
        TestCluster.Result result = Chart.template(cluster, "nuri", NS, values);
        assertThat(result.exitCode()).as("helm template --set %s", values).isNotZero();
        assertThat(result.stderr()).contains(message);
    }

    @Test
    void olderKubernetesIsRejected() {
        TestCluster.Result result = cluster.helm("template", "nuri", Chart.DIR.toString(), "--kube-version", "1.29.0");
        assertThat(result.exitCode()).isNotZero();
        assertThat(result.stderr()).contains("chart requires kubeVersion: >=1.30.0-0");
    }

    private static Container operator(List<HasMetadata> objects) {
        return Chart.one(objects, Deployment.class).getSpec().getTemplate().getSpec().getContainers().getFirst();
    }
}
