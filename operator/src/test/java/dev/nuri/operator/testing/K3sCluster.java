package dev.nuri.operator.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/** K3s in Docker through Testcontainers (NURI_TEST_CLUSTER=k3s). No KWOK, so no fake NPU nodes. */
final class K3sCluster extends TestCluster {

    static final String IMAGE = "rancher/k3s:v1.33.4-k3s1";

    private final K3sContainer k3s;
    private final Path kubeconfig;

    private K3sCluster(K3sContainer k3s, Path kubeconfig) {
        this.k3s = k3s;
        this.kubeconfig = kubeconfig;
    }

    static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    static K3sCluster start() {
        K3sContainer k3s = new K3sContainer(DockerImageName.parse(IMAGE));
        k3s.start();
        try {
            Path file = Files.createTempFile("k3s", ".kubeconfig");
            Files.writeString(file, k3s.getKubeConfigYaml());
            return new K3sCluster(k3s, file);
        } catch (IOException e) {
            k3s.stop();
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Path kubeconfig() {
        return kubeconfig;
    }

    @Override
    public Path bin() {
        return null;
    }

    @Override
    public boolean canSimulateNodes() {
        return false;
    }

    @Override
    public String lane() {
        return "k3s";
    }

    @Override
    public String describe() {
        return "K3s " + IMAGE;
    }

    @Override
    public void close() {
        super.close();
        k3s.stop();
    }
}
