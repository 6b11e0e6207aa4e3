package dev.nuri.operator.testing;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Kubernetes cluster for tests: the one NURI_TEST_KUBECONFIG names, K3s in Docker, or the
 * local control plane built from Go modules ({@code hack/cluster}). See docs/testing.md.
 */
public abstract class TestCluster implements AutoCloseable {

    public static final Path REPO = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent();

    private KubernetesClient client;

    /** Path of a kubeconfig with admin rights on the cluster. */
    public abstract Path kubeconfig();

    /** Folder holding kubectl and helm built by hack/build-tools.sh, when they are. */
    public abstract Path bin();

    /** Whether fake NPU nodes can be added (only where KWOK runs). */
    public abstract boolean canSimulateNodes();

    /** Adds {@code count} fake nodes of an accelerator profile (hack/profiles.tsv) and waits until they are Ready. */
    public void addNodes(String profile, int count, String prefix) {
        addNodes(profile, count, prefix, null);
    }

    /** As {@link #addNodes(String, int, String)}, all in one zone when {@code zone} is not null. */
    public void addNodes(String profile, int count, String prefix, String zone) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot add fake nodes");
    }

    public abstract String describe();

    /** The lane, for the test report: local, k3s or external. */
    public abstract String lane();

    /** Whether a command-line tool this cluster's tests use (kubectl, helm) can be run. */
    public boolean hasTool(String name) {
        Path built = bin() == null ? null : bin().resolve(name);
        if (built != null && Files.isExecutable(built)) {
            return true;
        }
        String path = System.getenv("PATH");
        return path != null && java.util.Arrays.stream(path.split(java.io.File.pathSeparator))
                .anyMatch(dir -> !dir.isEmpty() && Files.isExecutable(Path.of(dir, name)));
    }

    /** The API server's audit log (one JSON line per write request), where the tests can read it. */
    public java.util.Optional<Path> auditLog() {
        return java.util.Optional.empty();
    }

    static List<String> withZone(List<String> cmd, String zone) {
        List<String> all = new ArrayList<>(cmd);
        if (zone != null) {
            all.add("--zone");
            all.add(zone);
        }
        return all;
    }

    public synchronized KubernetesClient client() {
        if (client == null) {
            client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(read(kubeconfig()))).build();
        }
        return client;
    }

    /** Runs the cluster's kubectl with this cluster's kubeconfig. */
    public Result kubectl(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(tool("kubectl"));
        cmd.add("--kubeconfig=" + kubeconfig());
        cmd.addAll(List.of(args));
        return run(cmd, REPO);
    }

    /** Runs the cluster's helm with this cluster's kubeconfig. */
    public Result helm(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(tool("helm"));
        cmd.add("--kubeconfig=" + kubeconfig());
        cmd.addAll(List.of(args));
        return run(cmd, REPO);
    }

    private String tool(String name) {
        Path built = bin() == null ? null : bin().resolve(name);
        return built != null && Files.isExecutable(built) ? built.toString() : name;
    }

    public record Result(int exitCode, String stdout, String stderr) {
        public Result assertSuccess() {
            if (exitCode != 0) {
                throw new AssertionError("command failed (" + exitCode + "):\n" + stdout + "\n" + stderr);
            }
            return this;
        }
    }

    /**
     * Changes an object as a user's {@code kubectl edit} would: the operator may write status between the read
     * and the write (409 Conflict), and the edit is then made again on the newer object.
     */
    public static <T extends io.fabric8.kubernetes.api.model.HasMetadata> void editAsAUser(
            io.fabric8.kubernetes.client.dsl.Resource<T> resource, java.util.function.Consumer<T> change) {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60))
                .ignoreException(io.fabric8.kubernetes.client.KubernetesClientException.class).until(() -> {
                    resource.edit(o -> {
                        change.accept(o);
                        return o;
                    });
                    return true;
                });
    }

    public static Result run(List<String> cmd, Path dir) {
        try {
            Path out = Files.createTempFile("nuri-cmd", ".out");
            Path err = Files.createTempFile("nuri-cmd", ".err");
            Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(15, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + cmd);
            }
            Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted: " + cmd, e);
        }
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
    }
}
