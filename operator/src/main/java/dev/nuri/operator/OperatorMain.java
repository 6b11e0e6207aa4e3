package dev.nuri.operator;

import dev.nuri.operator.observability.DeploymentMetrics;
import dev.nuri.operator.observability.OperatorHttpServer;
import dev.nuri.operator.reconciler.ModelDeploymentReconciler;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.HashSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts the operator against the cluster of KUBECONFIG, or in-cluster. */
public final class OperatorMain implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OperatorMain.class);

    private final Operator operator;
    private final OperatorHttpServer http;

    public OperatorMain(OperatorConfig config, KubernetesClient client) throws java.io.IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        operator = new Operator(o -> {
            o.withKubernetesClient(client)
                    .withMetrics(MicrometerMetrics.newPerResourceCollectingMicrometerMetricsBuilder(registry).build())
                    .withCloseClientOnStop(false);
            config.leaseNamespace().ifPresent(ns -> o.withLeaderElectionConfiguration(
                    LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration("nuri-operator-lock")
                            .withLeaseNamespace(ns)
                            .withExitOnStopLeading(true) // a deposed leader restarts rather than act on stale state
                            .build()));
        });
        operator.register(new ModelDeploymentReconciler(config.workerImage(), new DeploymentMetrics(registry)),
                c -> {
                    if (!config.namespaces().isEmpty()) {
                        c.settingNamespaces(new HashSet<>(config.namespaces()));
                    }
                });
        http = new OperatorHttpServer(config.metricsHost(), config.metricsPort(), registry,
                () -> operator.getRuntimeInfo().allEventSourcesAreHealthy());
    }

    public OperatorMain start() {
        operator.start();
        LOG.info("nuri-operator started; metrics, healthz and readyz on port {}", http.port());
        return this;
    }

    public int httpPort() {
        return http.port();
    }

    @Override
    public void close() {
        operator.stop();
        http.close();
    }

    public static void main(String[] args) throws Exception {
        OperatorConfig config;
        try {
            config = OperatorConfig.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        KubernetesClient client = new KubernetesClientBuilder().build();
        OperatorMain main = new OperatorMain(config, client).start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            main.close();
            client.close();
        }, "shutdown"));
    }
}
