package dev.nuri.operator.testing;

import java.nio.file.Path;
import java.util.List;

/**
 * etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on 127.0.0.1, started by
 * {@code hack/cluster up} with this JVM as owner: if the JVM dies, the cluster's watchdog stops it.
 * With a real node ({@link #startWithRealNode()}), also a kubelet on containerd that runs pods.
 */
public final class LocalControlPlane extends TestCluster {

    private final Path state;
    private final Path kubeconfig;
    private final Path bin;

    private LocalControlPlane(Path state, Path kubeconfig, Path bin) {
        this.state = state;
        this.kubeconfig = kubeconfig;
        this.bin = bin;
    }

    static LocalControlPlane start() {
        // one state folder per JVM, so concurrent test runs never stop each other's plane
        return start(REPO.resolve("operator/target/cluster-" + ProcessHandle.current().pid()), List.of());
    }

    /**
     * A plane of its own with the machine's one real node ({@code hack/cluster up --real-node}; waits
     * while another run holds the node). Needs root.
     */
    public static LocalControlPlane startWithRealNode() {
        return start(REPO.resolve("operator/target/cluster-real-" + ProcessHandle.current().pid()), List.of("--real-node"));
    }

    private static LocalControlPlane start(Path state, List<String> options) {
        List<String> cmd = new java.util.ArrayList<>(List.of("env", "NURI_CLUSTER_DIR=" + state,
                REPO.resolve("hack/cluster").toString(), "up", "--owner-pid", Long.toString(ProcessHandle.current().pid())));
        cmd.addAll(options);
        Result up = run(cmd, REPO);
        if (up.exitCode() != 0) {
            throw new IllegalStateException("hack/cluster up failed (logs in " + state + "/logs):\n" + up.stderr());
        }
        String[] lines = up.stdout().strip().split("\n");
        Path kubeconfig = Path.of(value(lines, "KUBECONFIG="));
        Path bin = Path.of(value(lines, "BIN="));
        return new LocalControlPlane(state, kubeconfig, bin);
    }

    private static String value(String[] lines, String prefix) {
        for (String line : lines) {
            if (line.startsWith(prefix)) return line.substring(prefix.length());
        }
        throw new IllegalStateException("hack/cluster up printed no " + prefix + " line");
    }

    @Override
    public Path kubeconfig() {
        return kubeconfig;
    }

    @Override
    public Path bin() {
        return bin;
    }

    @Override
    public boolean canSimulateNodes() {
        return true;
    }

    @Override
    public java.util.Optional<Path> auditLog() {
        return java.util.Optional.of(state.resolve("logs/audit.log"));
    }

    @Override
    public void addNodes(String profile, int count, String prefix, String zone) {
        run(withZone(List.of("env", "NURI_CLUSTER_DIR=" + state, REPO.resolve("hack/cluster").toString(), "nodes", profile,
                Integer.toString(count), "--prefix", prefix), zone), REPO).assertSuccess();
    }

    @Override
    public String lane() {
        return "local";
    }

    @Override
    public String describe() {
        return "local control plane (" + state + ")";
    }

    /**
     * {@code hack/cluster restart}: stops one component of the plane (etcd, kube-apiserver, ...), keeps it down
     * {@code downSeconds}, starts it again with the same command line and waits until it is healthy.
     */
    public void restart(String component, int downSeconds) {
        run(List.of("env", "NURI_CLUSTER_DIR=" + state, REPO.resolve("hack/cluster").toString(), "restart", component,
                "--down", Integer.toString(downSeconds)), REPO).assertSuccess();
    }

    /** The folder holding the plane's logs (and the node's, with a real node). */
    public Path logs() {
        return state.resolve("logs");
    }

    @Override
    public void close() {
        super.close();
        run(List.of("env", "NURI_CLUSTER_DIR=" + state, REPO.resolve("hack/cluster").toString(), "down"), REPO);
    }
}
