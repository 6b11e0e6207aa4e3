package dev.nuri.operator.testing;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands tests one {@link TestCluster} per test run, chosen in this order: NURI_TEST_KUBECONFIG or
 * KUBECONFIG when set; K3s through Testcontainers when Docker runs; otherwise the local control
 * plane. It is closed when the run ends, also when tests fail.
 */
public final class KubernetesClusterExtension implements ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KubernetesClusterExtension.class);

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
                .getOrComputeIfAbsent("cluster", k -> new Holder(choose()), Holder.class).cluster;
    }

    static TestCluster choose() {
        for (String variable : new String[] {"NURI_TEST_KUBECONFIG", "KUBECONFIG"}) {
            String path = System.getenv(variable);
            if (ExternalCluster.exists(path)) {
                return new ExternalCluster(Path.of(path));
            }
        }
        if (K3sCluster.dockerAvailable()) {
            return K3sCluster.start();
        }
        return LocalControlPlane.start();
    }

    /** Closed by JUnit when the root context closes: at the end of the run. */
    private record Holder(TestCluster cluster) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() {
            cluster.close();
        }
    }
}
