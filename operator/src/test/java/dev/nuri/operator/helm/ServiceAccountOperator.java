package dev.nuri.operator.helm;

import static org.awaitility.Awaitility.await;

import dev.nuri.operator.OperatorMain;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.client.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operator in a child JVM (the test classpath), logged in with a token of the chart's
 * ServiceAccount and started with the arguments the chart gave its Deployment: it can do exactly
 * what the chart's RBAC lets the in-cluster operator do. (KWOK pods run no containers, and the
 * local API server is not reachable from inside the cluster, so the pod itself cannot be used.)
 */
final class ServiceAccountOperator implements AutoCloseable {

    private static final Pattern PORT = Pattern.compile("readyz on port (\\d+)");

    private final Process process;
    private final Path log;

    private ServiceAccountOperator(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts the operator as {@code serviceAccount} of {@code namespace} with the chart's container
     * arguments, the metrics server moved to a free port on 127.0.0.1.
     */
    static ServiceAccountOperator start(TestCluster cluster, String namespace, String serviceAccount, List<String> chartArgs)
            throws IOException {
        String token = cluster.kubectl("create", "token", serviceAccount, "-n", namespace, "--duration=1h")
                .assertSuccess().stdout().strip();
        Path dir = TestCluster.REPO.resolve("operator/target/helm-test");
        Files.createDirectories(dir);
        Path kubeconfig = dir.resolve(serviceAccount + ".kubeconfig");
        Files.writeString(kubeconfig, kubeconfig(cluster, token));
        Path log = dir.resolve(serviceAccount + ".log");

        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-cp", System.getProperty("java.class.path"), OperatorMain.class.getName()));
        chartArgs.stream().filter(a -> !a.startsWith("--metrics-")).forEach(cmd::add);
        cmd.addAll(List.of("--metrics-host=127.0.0.1", "--metrics-port=0"));
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("NURI_") || k.equals("KUBECONFIG"));
        builder.environment().put("KUBECONFIG", kubeconfig.toString());
        return new ServiceAccountOperator(builder.start(), log);
    }

    /** A kubeconfig for the cluster's API server that carries nothing but the token. */
    private static String kubeconfig(TestCluster cluster, String token) {
        Config admin = Config.fromKubeconfig(readString(cluster.kubeconfig()));
        return """
                apiVersion: v1
                kind: Config
                clusters: [{name: cluster, cluster: {server: "%s", certificate-authority-data: "%s"}}]
                users: [{name: operator, user: {token: "%s"}}]
                contexts: [{name: operator, context: {cluster: cluster, user: operator}}]
                current-context: operator
                """.formatted(admin.getMasterUrl(), admin.getCaCertData(), token);
    }

    /** Port of /metrics, /healthz and /readyz, once the operator has printed it. */
    int httpPort() {
        return await().atMost(Duration.ofSeconds(60)).until(() -> {
            if (!process.isAlive()) {
                throw new AssertionError("operator exited with " + process.exitValue() + ":\n" + log());
            }
            if (log().contains("Exception in thread \"main\"")) {
                throw new AssertionError("operator failed to start:\n" + log());
            }
            Matcher m = PORT.matcher(log());
            return m.find() ? Integer.parseInt(m.group(1)) : null;
        }, p -> p != null);
    }

    String log() {
        return readString(log);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        // A leader stopped from its shutdown hook can hang in System.exit; do not wait for it long.
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
