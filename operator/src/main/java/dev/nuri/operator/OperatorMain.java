package dev.nuri.operator;

import dev.nuri.operator.autoscaling.Autoscaler;
import dev.nuri.operator.dependents.PeerKeys;
import dev.nuri.operator.observability.DeploymentMetrics;
import dev.nuri.operator.observability.OperatorHttpServer;
import dev.nuri.operator.reconciler.ModelDeploymentReconciler;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import java.util.HashSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts the operator against the cluster of KUBECONFIG, or in-cluster. */
public final class OperatorMain implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OperatorMain.class);

    private final Operator operator;
    private final OperatorHttpServer http;
    private final AtomicBoolean stopping = new AtomicBoolean();

    public OperatorMain(OperatorConfig config, KubernetesClient client) throws java.io.IOException {
        this(config, client, Autoscaler.standard(config.autoscaleInterval()));
    }

    /** @param autoscaler the built-in autoscaler (tests give it a metrics source of their own) */
    public OperatorMain(OperatorConfig config, KubernetesClient client, Autoscaler autoscaler) throws java.io.IOException {
        this(config, client, autoscaler, dev.nuri.operator.placement.Rebalancer.standard(dev.nuri.operator.placement.Rebalancer.DEFAULT_INTERVAL));
    }

    /** @param rebalancer the expert rebalancer (tests point it at worker processes of their own) */
    public OperatorMain(OperatorConfig config, KubernetesClient client, Autoscaler autoscaler,
                        dev.nuri.operator.placement.Rebalancer rebalancer) throws java.io.IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // JOSDK times each reconcile per deployment with a 69-bucket histogram: 4.3 MB per scrape at
        // 200 deployments (docs/benchmarks.md). Keep the per-deployment counts and sums, drop the buckets.
        registry.config().meterFilter(new MeterFilter() {
            @Override
            public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
                return id.getName().startsWith("operator.sdk")
                        ? DistributionStatisticConfig.builder().percentilesHistogram(false).build().merge(config)
                        : config;
            }
        });
        operator = new Operator(o -> {
            o.withKubernetesClient(client)
                    .withMetrics(MicrometerMetrics.newPerResourceCollectingMicrometerMetricsBuilder(registry).build())
                    .withCloseClientOnStop(false);
            config.leaseNamespace().ifPresent(ns -> o.withLeaderElectionConfiguration(
                    LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration("nuri-operator-lock")
                            .withLeaseNamespace(ns)
                            .withIdentity(config.identity())
                            // JOSDK's own exit would run inside our shutdown hook and deadlock it; we exit ourselves
                            .withExitOnStopLeading(false)
                            .withLeaderCallbacks(new LeaderCallbacks(() -> {}, this::lostLeadership, leader -> {}))
                            .build()));
        });
        PeerKeys peerKeys = config.peerMasterKeyFile().map(PeerKeys::fromFile).orElseGet(() -> {
            LOG.warn("no --peer-master-key-file: peer keys derive from a random master of this process; the deployments created "
                    + "before a restart cannot be rebalanced until their peer key is rotated (docs/security.md)");
            return PeerKeys.random();
        });
        operator.register(new ModelDeploymentReconciler(config.workerImage(), new DeploymentMetrics(registry), autoscaler, rebalancer,
                        peerKeys),
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

    /** A deposed leader must not act on stale state: it exits and lets Kubernetes restart it. */
    private void lostLeadership() {
        if (!stopping.get()) {
            LOG.error("lost leadership of the nuri-operator lease; exiting so a restart starts clean");
            new Thread(() -> System.exit(1), "exit-after-lost-lease").start();
        }
    }

    public int httpPort() {
        return http.port();
    }

    @Override
    public void close() {
        stopping.set(true);
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
        OperatorMain main = new OperatorMain(config, client);
        try {
            main.start();
        } catch (RuntimeException e) {
            // without this, the metrics server would keep a broken process alive and /healthz green
            LOG.error("nuri-operator failed to start: {}", e.getMessage(), e);
            main.http.close();
            System.exit(1);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            main.close();
            client.close();
        }, "shutdown"));
    }
}
