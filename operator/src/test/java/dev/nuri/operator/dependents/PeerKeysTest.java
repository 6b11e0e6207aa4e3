package dev.nuri.operator.dependents;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nuri.contract.PeerKey;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeerKeysTest {

    static ModelDeployment md(String namespace, String name, String uid) {
        ModelDeployment md = new ModelDeployment();
        md.getMetadata().setNamespace(namespace);
        md.getMetadata().setName(name);
        md.getMetadata().setUid(uid);
        return md;
    }

    @Test
    void theSameMasterGivesTheSameKeyAfterARestartAndADifferentOnePerDeployment(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("master-key");
        Files.writeString(file, "x".repeat(64) + "\n");
        PeerKeys operator = PeerKeys.fromFile(file), restarted = PeerKeys.fromFile(file);
        ModelDeployment tiny = md("team-a", "tiny", "uid-1");

        String key = operator.of(tiny);
        assertThat(PeerKey.parse(key)).as("a key the shards accept").isNotNull();
        assertThat(restarted.of(tiny)).as("derived again by a restarted operator or its standby").isEqualTo(key);
        assertThat(operator.of(md("team-b", "tiny", "uid-1"))).as("another namespace").isNotEqualTo(key);
        assertThat(operator.of(md("team-a", "tiny2", "uid-1"))).as("another name").isNotEqualTo(key);
        assertThat(operator.of(md("team-a", "tiny", "uid-2"))).as("the same name made again").isNotEqualTo(key);
        assertThat(PeerKeys.random().of(tiny)).as("another master").isNotEqualTo(key);
        ModelDeployment rotated = md("team-a", "tiny", "uid-1");
        rotated.getMetadata().setAnnotations(java.util.Map.of(PeerKeys.ROTATION, "1"));
        assertThat(operator.of(rotated)).as("rotated by hand").isNotEqualTo(key);
    }

    @Test
    void aShortOrMissingMasterIsRefusedWithoutEchoingIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("master-key");
        Files.writeString(file, "short-secret");
        assertThatThrownBy(() -> PeerKeys.fromFile(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the peer master key must be at least 32 bytes, got 12").hasMessageNotContaining("short-secret");
        assertThatThrownBy(() -> PeerKeys.fromFile(dir.resolve("absent"))).hasMessageContaining("cannot read the peer master key file");
    }
}
