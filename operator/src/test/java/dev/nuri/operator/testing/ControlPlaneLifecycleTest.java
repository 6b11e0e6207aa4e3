package dev.nuri.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The local control plane's promises that the other tests rely on: everything listens on 127.0.0.1
 * only, and nothing survives its owner (a killed test JVM leaves no process behind).
 */
class ControlPlaneLifecycleTest {

    @Test
    void listensOnLoopbackOnlyAndStopsWhenItsOwnerDies() throws Exception {
        Path state = Files.createTempDirectory("nuri-plane-lifecycle");
        Process owner = new ProcessBuilder("sleep", "600").start(); // stands in for a test JVM
        try {
            TestCluster.run(List.of("env", "NURI_CLUSTER_DIR=" + state, TestCluster.REPO.resolve("hack/cluster").toString(),
                    "up", "--owner-pid", Long.toString(owner.pid())), TestCluster.REPO).assertSuccess();
            List<Long> pids = Files.readAllLines(state.resolve("pids")).stream()
                    .map(line -> Long.parseLong(line.trim().split("\\s+")[1])).toList();
            assertThat(pids).as("etcd, apiserver, controller-manager, scheduler, kwok and the watchdog").hasSizeGreaterThanOrEqualTo(6);
            assertThat(pids).allMatch(ControlPlaneLifecycleTest::alive);

            List<String> listening = TestCluster.run(List.of("ss", "-Hltnp"), TestCluster.REPO).assertSuccess().stdout()
                    .lines().filter(l -> pids.stream().anyMatch(pid -> l.contains("pid=" + pid + ","))).toList();
            assertThat(listening).as("sockets of the plane").isNotEmpty()
                    .allSatisfy(l -> assertThat(l.split("\\s+")[3]).matches("(\\[::ffff:)?127\\.0\\.0\\.1\\]?:\\d+"));

            owner.destroyForcibly().waitFor();
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(pids).as("processes of the plane after its owner died").noneMatch(ControlPlaneLifecycleTest::alive));
        } finally {
            owner.destroyForcibly();
            TestCluster.run(List.of("env", "NURI_CLUSTER_DIR=" + state, TestCluster.REPO.resolve("hack/cluster").toString(),
                    "down"), TestCluster.REPO);
        }
    }

    /** Alive and not a zombie waiting to be reaped. */
    static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return !stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (java.io.IOException e) {
            return false; // gone
        }
    }
}
