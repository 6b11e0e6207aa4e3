package dev.nuri.worker.group;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code nuri-worker serve}, the launcher behind {@code hack/serve}, as a real process tree. */
class ServeCommandTest {

    @Test
    void withExitWithParentTheGroupStopsWhenItsLauncherIsKilled() throws Exception {
        // a test JVM killed with -9 used to leave hack/serve and its shards running (found on the real-node runs)
        Path log = Files.createTempFile("nuri-serve", ".log");
        String java = ProcessHandle.current().info().command().orElseThrow();
        String serve = String.join(" ", List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", "\"$CP\"",
                "dev.nuri.worker.WorkerMain", "serve", "--shards", "2", "--port", "0", "--peer-port", "0", "--heap", "256m",
                "--exit-with-parent"));
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", serve + " & wait")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("CP", System.getProperty("java.class.path"));
        Process launcher = pb.start();
        List<ProcessHandle> started = new java.util.ArrayList<>();
        try {
            await().atMost(Duration.ofMinutes(2)).until(() -> {
                if (!launcher.isAlive()) throw new AssertionError("the launcher exited:\n" + Files.readString(log));
                return Files.readString(log).contains("the group is ready");
            });
            ProcessHandle serveProcess = launcher.toHandle().children().findFirst().orElseThrow();
            List<ProcessHandle> shards = serveProcess.children().toList();
            started.add(serveProcess);
            started.addAll(shards);
            assertThat(shards).as("shard processes of serve").hasSize(2);

            launcher.destroyForcibly(); // kill -9: no chance to clean up
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                assertThat(serveProcess.isAlive()).as("serve after its parent died").isFalse();
                assertThat(shards).noneMatch(ProcessHandle::isAlive);
            });
            assertThat(Files.readString(log)).contains("nuri: stopping the shard processes");
        } finally {
            launcher.destroyForcibly();
            started.forEach(ProcessHandle::destroyForcibly); // only where the behaviour under test failed

        }
    }
}
