package dev.nuri.operator.reconciler;

import dev.nuri.operator.OperatorConfig;
import dev.nuri.operator.OperatorMain;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Runs the operator in this JVM against a test cluster, under a user agent of its own (for the audit log). */
final class OperatorHarness implements AutoCloseable {

    static final String USER_AGENT = "nuri-operator-under-test";
    private static final KubernetesSerialization YAML = new KubernetesSerialization();

    private final KubernetesClient client;
    private final OperatorMain operator;

    private OperatorHarness(KubernetesClient client, OperatorMain operator) {
        this.client = client;
        this.operator = operator;
    }

    static OperatorHarness start(TestCluster cluster, List<String> namespaces) {
        return start(cluster, new OperatorConfig(namespaces, "nuri-worker:test", "127.0.0.1", 0, Optional.empty(), "test"));
    }

    /**
     * As {@link #start(TestCluster, List)}, but reaching the API server at {@code masterUrl} (a relay in front of it, which
     * the test can cut).
     */
    static OperatorHarness startThrough(TestCluster cluster, List<String> namespaces, String masterUrl) {
        var config = new OperatorConfig(namespaces, "nuri-worker:test", "127.0.0.1", 0, Optional.empty(), "test");
        try {
            Config c = new ConfigBuilder(Config.fromKubeconfig(Files.readString(cluster.kubeconfig())))
                    .withMasterUrl(masterUrl).withUserAgent(USER_AGENT).build();
            KubernetesClient client = new KubernetesClientBuilder().withConfig(c).build();
            OperatorMain main = new OperatorMain(config, client,
                    dev.nuri.operator.autoscaling.Autoscaler.standard(config.autoscaleInterval()),
                    dev.nuri.operator.placement.Rebalancer.standard(dev.nuri.operator.placement.Rebalancer.DEFAULT_INTERVAL)).start();
            return new OperatorHarness(client, main);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static OperatorHarness startAs(TestCluster cluster, List<String> namespaces, String userAgent) {
        var config = new OperatorConfig(namespaces, "nuri-worker:test", "127.0.0.1", 0, Optional.empty(), "test");
        return start(cluster, config, dev.nuri.operator.autoscaling.Autoscaler.standard(config.autoscaleInterval()),
                dev.nuri.operator.placement.Rebalancer.standard(dev.nuri.operator.placement.Rebalancer.DEFAULT_INTERVAL), userAgent);
    }

    static OperatorHarness start(TestCluster cluster, OperatorConfig operatorConfig) {
        return start(cluster, operatorConfig, dev.nuri.operator.autoscaling.Autoscaler.standard(operatorConfig.autoscaleInterval()));
    }

    /** With an autoscaler of the test's own (KWOK pods run nothing: their metrics must come from elsewhere). */
    static OperatorHarness start(TestCluster cluster, OperatorConfig operatorConfig, dev.nuri.operator.autoscaling.Autoscaler autoscaler) {
        return start(cluster, operatorConfig, autoscaler, dev.nuri.operator.placement.Rebalancer.standard(
                dev.nuri.operator.placement.Rebalancer.DEFAULT_INTERVAL));
    }

    /** With a rebalancer of the test's own (KWOK pods run nothing: their internal endpoints must be elsewhere). */
    static OperatorHarness start(TestCluster cluster, OperatorConfig operatorConfig, dev.nuri.operator.autoscaling.Autoscaler autoscaler,
                                 dev.nuri.operator.placement.Rebalancer rebalancer) {
        return start(cluster, operatorConfig, autoscaler, rebalancer, USER_AGENT);
    }

    private static OperatorHarness start(TestCluster cluster, OperatorConfig operatorConfig,
                                         dev.nuri.operator.autoscaling.Autoscaler autoscaler,
                                         dev.nuri.operator.placement.Rebalancer rebalancer, String userAgent) {
        try {
            Config config = new ConfigBuilder(Config.fromKubeconfig(Files.readString(cluster.kubeconfig())))
                    .withUserAgent(userAgent).build();
            KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
            OperatorMain main = new OperatorMain(operatorConfig, client, autoscaler, rebalancer).start();
            return new OperatorHarness(client, main);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * As {@link #start(TestCluster, OperatorConfig, dev.nuri.operator.autoscaling.Autoscaler, dev.nuri.operator.placement.Rebalancer)},
     * but logged in as the Helm chart's ServiceAccount with the chart's RBAC for the config's namespaces (release
     * namespace {@code releaseNamespace}, created here): the operator can do exactly what the installed one can.
     */
    static OperatorHarness startAsChartServiceAccount(TestCluster cluster, OperatorConfig operatorConfig, String releaseNamespace,
                                                      dev.nuri.operator.autoscaling.Autoscaler autoscaler,
                                                      dev.nuri.operator.placement.Rebalancer rebalancer) {
        cluster.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(releaseNamespace).endMetadata().build())
                .serverSideApply();
        String rbac = cluster.helm("template", "nuri-operator", TestCluster.REPO.resolve("helm/nuri-operator").toString(),
                "--namespace", releaseNamespace, "--set", "watchNamespaces={" + String.join(",", operatorConfig.namespaces()) + "}",
                "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml").assertSuccess().stdout();
        cluster.client().load(new java.io.ByteArrayInputStream(rbac.getBytes(java.nio.charset.StandardCharsets.UTF_8))).serverSideApply();
        String token = cluster.kubectl("create", "token", "nuri-operator", "-n", releaseNamespace, "--duration=1h")
                .assertSuccess().stdout().strip();
        try {
            Config admin = Config.fromKubeconfig(Files.readString(cluster.kubeconfig()));
            Config config = new ConfigBuilder().withMasterUrl(admin.getMasterUrl()).withCaCertData(admin.getCaCertData())
                    .withOauthToken(token).withUserAgent(USER_AGENT).build();
            KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
            OperatorMain main = new OperatorMain(operatorConfig, client, autoscaler, rebalancer).start();
            return new OperatorHarness(client, main);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    int httpPort() {
        return operator.httpPort();
    }

    @Override
    public void close() {
        operator.close();
        client.close();
    }

    /** A namespace whose pods must pass the Pod Security "restricted" profile. */
    static void restrictedNamespace(TestCluster cluster, String name) {
        cluster.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name)
                .addToLabels("pod-security.kubernetes.io/enforce", "restricted")
                .addToLabels("pod-security.kubernetes.io/enforce-version", "latest")
                .endMetadata().build()).serverSideApply();
    }

    /** An example manifest, made to tolerate the fake (KWOK) nodes' taint. */
    static ModelDeployment example(String file, String namespace) {
        try {
            ModelDeployment md = YAML.unmarshal(Files.readString(TestCluster.REPO.resolve("examples").resolve(file)),
                    ModelDeployment.class);
            md.getMetadata().setNamespace(namespace);
            return tolerateFakeNodes(md);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ModelDeployment tolerateFakeNodes(ModelDeployment md) {
        if (md.getSpec().scheduling == null) {
            md.getSpec().scheduling = new dev.nuri.operator.api.v1alpha1.SchedulingSpec();
        }
        if (md.getSpec().scheduling.tolerations == null) {
            md.getSpec().scheduling.tolerations = new ArrayList<>();
        }
        md.getSpec().scheduling.tolerations.add(new TolerationBuilder().withKey("kwok.x-k8s.io/node")
                .withOperator("Exists").withEffect("NoSchedule").build());
        return md;
    }
}
