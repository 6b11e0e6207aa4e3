package dev.nuri.operator.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** The cluster named by NURI_TEST_KUBECONFIG or KUBECONFIG; the tests neither start nor stop it. */
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
        // Fake NPU nodes need KWOK in the cluster; say so explicitly.
        return "true".equals(System.getenv("NURI_TEST_KWOK"));
    }

    @Override
    public void addNodes(String profile, int count, String prefix) {
        if (!canSimulateNodes()) super.addNodes(profile, count, prefix);
        run(java.util.List.of("env", "KUBECONFIG=" + kubeconfig, REPO.resolve("hack/cluster").toString(), "nodes",
                profile, Integer.toString(count), "--prefix", prefix), REPO).assertSuccess();
    }

    @Override
    public String describe() {
        return "cluster of " + kubeconfig;
    }

    static boolean exists(String path) {
        return path != null && !path.isBlank() && Files.isReadable(Path.of(path));
    }
}
