package dev.nuri.operator;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Settings from flags, falling back to environment variables (the Helm chart sets those).
 *
 * @param namespaces      namespaces to watch; empty means all
 * @param workerImage     worker image for ModelDeployments that name none
 * @param metricsHost     address of /metrics, /healthz, /readyz
 * @param metricsPort     port of the same (0 picks a free one)
 * @param leaseNamespace  namespace of the leader-election Lease; empty disables leader election
 * @param identity        this instance's name in the Lease: the pod name (HOSTNAME) in a cluster
 * @param autoscaleInterval how often the built-in autoscaler reads metrics and decides
 */
public record OperatorConfig(List<String> namespaces, String workerImage, String metricsHost, int metricsPort,
                             Optional<String> leaseNamespace, String identity, java.time.Duration autoscaleInterval,
                             Optional<java.nio.file.Path> peerMasterKeyFile) {

    public OperatorConfig(List<String> namespaces, String workerImage, String metricsHost, int metricsPort,
                          Optional<String> leaseNamespace, String identity, java.time.Duration autoscaleInterval) {
        this(namespaces, workerImage, metricsHost, metricsPort, leaseNamespace, identity, autoscaleInterval, Optional.empty());
    }

    public OperatorConfig(List<String> namespaces, String workerImage, String metricsHost, int metricsPort,
                          Optional<String> leaseNamespace, String identity) {
        this(namespaces, workerImage, metricsHost, metricsPort, leaseNamespace, identity,
                dev.nuri.operator.autoscaling.Autoscaler.DEFAULT_INTERVAL);
    }

    public static final String DEFAULT_WORKER_IMAGE = "ghcr.io/nuri-dev/nuri-worker:0.1.0";

    public static OperatorConfig parse(String[] args, Map<String, String> env) {
        String namespaces = env.getOrDefault("NURI_NAMESPACES", "");
        String image = env.getOrDefault("NURI_WORKER_IMAGE", DEFAULT_WORKER_IMAGE);
        String host = env.getOrDefault("NURI_METRICS_HOST", "0.0.0.0");
        String port = env.getOrDefault("NURI_METRICS_PORT", "8080");
        String lease = env.getOrDefault("NURI_LEADER_ELECTION_NAMESPACE", "");
        String interval = env.getOrDefault("NURI_AUTOSCALE_INTERVAL_SECONDS",
                Long.toString(dev.nuri.operator.autoscaling.Autoscaler.DEFAULT_INTERVAL.toSeconds()));
        String masterKeyFile = env.getOrDefault("NURI_PEER_MASTER_KEY_FILE", "");
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1) : (i + 1 < args.length ? args[i + 1] : null);
            String flag = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            boolean inline = arg.contains("=");
            switch (flag) {
                case "--namespaces" -> namespaces = require(flag, value);
                case "--worker-image" -> image = require(flag, value);
                case "--metrics-host" -> host = require(flag, value);
                case "--metrics-port" -> port = require(flag, value);
                case "--leader-election-namespace" -> lease = require(flag, value);
                case "--autoscale-interval-seconds" -> interval = require(flag, value);
                case "--peer-master-key-file" -> masterKeyFile = require(flag, value);
                case "--help", "-h" -> throw new IllegalArgumentException(usage());
                default -> throw new IllegalArgumentException("unknown option " + arg + "\n" + usage());
            }
            if (!inline) i++;
        }
        int metricsPort;
        try {
            metricsPort = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--metrics-port must be a number, got " + port);
        }
        long intervalSeconds;
        try {
            intervalSeconds = Long.parseLong(interval);
        } catch (NumberFormatException e) {
            intervalSeconds = 0;
        }
        if (intervalSeconds < 1) {
            throw new IllegalArgumentException("--autoscale-interval-seconds must be a whole number of seconds, at least 1, got "
                    + interval);
        }
        List<String> watched = Arrays.stream(namespaces.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        String identity = env.getOrDefault("HOSTNAME", "nuri-operator-" + java.util.UUID.randomUUID());
        return new OperatorConfig(watched, image, host, metricsPort, lease.isBlank() ? Optional.empty() : Optional.of(lease),
                identity, java.time.Duration.ofSeconds(intervalSeconds),
                masterKeyFile.isBlank() ? Optional.empty() : Optional.of(java.nio.file.Path.of(masterKeyFile)));
    }

    private static String require(String flag, String value) {
        if (value == null) throw new IllegalArgumentException(flag + " needs a value");
        return value;
    }

    static String usage() {
        return """
                usage: java -jar nuri-operator.jar [options]   (cluster from KUBECONFIG or in-cluster)
                  --namespaces a,b              namespaces to watch (env NURI_NAMESPACES; default: all)
                  --worker-image IMAGE          default worker image (env NURI_WORKER_IMAGE)
                  --metrics-host HOST           bind address of /metrics /healthz /readyz (env NURI_METRICS_HOST; default 0.0.0.0)
                  --metrics-port PORT           their port (env NURI_METRICS_PORT; default 8080)
                  --leader-election-namespace NS  enable leader election with a Lease in NS (env NURI_LEADER_ELECTION_NAMESPACE)
                  --autoscale-interval-seconds N  how often the built-in autoscaler decides (env NURI_AUTOSCALE_INTERVAL_SECONDS; default 15)
                  --peer-master-key-file FILE   the master key each deployment's peer key is derived from (env NURI_PEER_MASTER_KEY_FILE;
                                                default: random per process, docs/security.md)
                """;
    }
}
