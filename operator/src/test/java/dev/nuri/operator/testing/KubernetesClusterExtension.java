package dev.nuri.operator.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands tests one {@link TestCluster} per test run, on the lane chosen by the environment:
 * <ul>
 *   <li>{@code external}: the cluster NURI_TEST_KUBECONFIG names (a plain KUBECONFIG is never used:
 *       a developer's current cluster must not be picked up by a test run);</li>
 *   <li>{@code k3s}: K3s through Testcontainers, when NURI_TEST_CLUSTER=k3s;</li>
 *   <li>{@code local}: otherwise, the local control plane with KWOK (what CI runs).</li>
 * </ul>
 * It is closed when the run ends, also when tests fail. Each test class's lane is appended to
 * {@code target/cluster-lanes.tsv}, which hack/test's report reads.
 */
public final class KubernetesClusterExtension implements ParameterResolver, BeforeAllCallback {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KubernetesClusterExtension.class);
    static final Path LANES = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("target/cluster-lanes.tsv");

    private static boolean lanesStarted;

    /** Records the class's lane before its own @BeforeAll methods run, so classes that skip are listed too. */
    @Override
    public void beforeAll(ExtensionContext context) {
        TestCluster cluster = cluster(context);
        String line = context.getRequiredTestClass().getName() + "\t" + cluster.lane() + "\t" + cluster.describe() + "\n";
        synchronized (KubernetesClusterExtension.class) {
            try {
                Files.createDirectories(LANES.getParent());
                // the first class of this run starts the file afresh
                Files.writeString(LANES, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        lanesStarted ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
                lanesStarted = true;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return TestCluster.class.isAssignableFrom(parameter.getParameter().getType());
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return cluster(context);
    }

    public static TestCluster cluster(ExtensionContext context) {
        return context.getRoot().getStore(NS)
                .getOrComputeIfAbsent("cluster", k -> new Holder(choose(System.getenv())), Holder.class).cluster;
    }

    static TestCluster choose(Map<String, String> env) {
        return switch (lane(env)) {
            case "external" -> new ExternalCluster(Path.of(env.get("NURI_TEST_KUBECONFIG")));
            case "k3s" -> {
                if (!K3sCluster.dockerAvailable()) {
                    throw new IllegalStateException("NURI_TEST_CLUSTER=k3s but no Docker engine answers");
                }
                yield K3sCluster.start();
            }
            default -> LocalControlPlane.start();
        };
    }

    /**
     * The lane the environment asks for: only NURI_TEST_KUBECONFIG and NURI_TEST_CLUSTER count, so a
     * stray KUBECONFIG or a running Docker engine never moves the tests. A request that cannot be
     * met fails rather than falling back.
     */
    static String lane(Map<String, String> env) {
        String kubeconfig = env.get("NURI_TEST_KUBECONFIG");
        if (kubeconfig != null && !kubeconfig.isBlank()) {
            if (!ExternalCluster.exists(kubeconfig)) {
                throw new IllegalStateException("NURI_TEST_KUBECONFIG=" + kubeconfig + " is not a readable file");
            }
            return "external";
        }
        String lane = env.getOrDefault("NURI_TEST_CLUSTER", "");
        return switch (lane) {
            case "", "local" -> "local";
            case "k3s" -> "k3s";
            default -> throw new IllegalStateException("NURI_TEST_CLUSTER=" + lane + ": expected local or k3s "
                    + "(or set NURI_TEST_KUBECONFIG to a cluster of your own)");
        };
    }

    /** Closed by JUnit when the root context closes: at the end of the run. */
    private record Holder(TestCluster cluster) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() {
            cluster.close();
        }
    }
}
