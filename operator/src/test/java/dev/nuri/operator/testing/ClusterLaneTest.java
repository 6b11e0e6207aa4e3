package dev.nuri.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which cluster the operator tests run on is asked for explicitly, never picked up from the shell. */
class ClusterLaneTest {

    @TempDir
    Path dir;

    @Test
    void aStrayKubeconfigDoesNotMoveTheTests() throws Exception {
        Path kubeconfig = Files.writeString(dir.resolve("config"), "apiVersion: v1\nkind: Config\n");
        assertThat(KubernetesClusterExtension.lane(Map.of("KUBECONFIG", kubeconfig.toString()))).isEqualTo("local");
        assertThat(KubernetesClusterExtension.lane(Map.of())).isEqualTo("local");
    }

    @Test
    void nuriTestKubeconfigOptsIntoAClusterOfYourOwn() throws Exception {
        Path kubeconfig = Files.writeString(dir.resolve("config"), "apiVersion: v1\nkind: Config\n");
        assertThat(KubernetesClusterExtension.lane(Map.of("NURI_TEST_KUBECONFIG", kubeconfig.toString(),
                "NURI_TEST_CLUSTER", "k3s"))).isEqualTo("external");
        assertThatThrownBy(() -> KubernetesClusterExtension.lane(Map.of("NURI_TEST_KUBECONFIG", dir.resolve("absent").toString())))
                .hasMessageContaining("is not a readable file");
    }

    @Test
    void k3sOnlyWhenAskedFor() {
        assertThat(KubernetesClusterExtension.lane(Map.of("NURI_TEST_CLUSTER", "k3s"))).isEqualTo("k3s");
        assertThatThrownBy(() -> KubernetesClusterExtension.lane(Map.of("NURI_TEST_CLUSTER", "kind")))
                .hasMessageContaining("expected local or k3s");
    }
}
