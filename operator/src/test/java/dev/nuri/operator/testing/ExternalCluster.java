package dev.nuri.operator.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** The cluster named by NURI_TEST_KUBECONFIG; the tests neither start nor stop it. */
final class ExternalCluster extends TestCluster {

    private final Path kubeconfig;

    ExternalCluster(Path kubeconfig) {
        this.kubeconfig = kubeconfig;
    }

    @Override
    public Path kubeconfig() {
        return kubeconfig;
    }

    @Override
    public Path bin() {
        String bin = System.getenv("NURI_TEST_BIN");
        return bin == null ? null : Path.of(bin);
    }

    @Override
    public boolean canSimulateNodes() {
        return false; // fake NPU nodes need KWOK, which only the local control plane runs
    }

    @Override
    public String lane() {
        return "external";
    }

    @Override
    public String describe() {
        return "cluster of " + kubeconfig;
    }

    static boolean exists(String path) {
        return path != null && !path.isBlank() && Files.isReadable(Path.of(path));
    }
}
