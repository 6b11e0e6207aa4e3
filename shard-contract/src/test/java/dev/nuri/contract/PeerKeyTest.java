package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PeerKeyTest {
    final PeerKey key = PeerKey.parse(PeerKey.generate());
    final Frame.Hello client = new Frame.Hello(0, 1, 99, PeerKey.nonce());
    final Frame.Hello server = new Frame.Hello(0, 0, 99, PeerKey.nonce());

    @Test
    void proofsDependOnTheKeyTheRoleAndBothHellos() {
        byte[] serverProof = key.serverProof(client, server);
        assertThat(PeerKey.matches(serverProof, key.serverProof(client, server))).isTrue();
        assertThat(PeerKey.matches(serverProof, key.clientProof(client, server))).as("role").isFalse();
        assertThat(PeerKey.matches(serverProof, PeerKey.parse(PeerKey.generate()).serverProof(client, server))).as("key").isFalse();
        Frame.Hello freshClient = new Frame.Hello(0, 1, 99, PeerKey.nonce());
        assertThat(PeerKey.matches(serverProof, key.serverProof(freshClient, server))).as("a replay against a fresh nonce").isFalse();
        Frame.Hello otherShard = new Frame.Hello(0, 2, 99, client.nonce());
        assertThat(PeerKey.matches(serverProof, key.serverProof(otherShard, server))).as("shard").isFalse();
    }

    @Test
    void keyIs32HexBytesAndIsNeverEchoed() {
        assertThat(PeerKey.generate()).hasSize(64).matches("[0-9a-f]{64}");
        assertThatThrownBy(() -> PeerKey.parse("secret-but-short")).hasMessageContaining("must be 64 hex characters")
                .hasMessageNotContaining("secret-but-short");
        assertThat(key.toString()).doesNotContain(PeerKey.generate().substring(0, 4)).isEqualTo("PeerKey[hidden]");
    }
}
