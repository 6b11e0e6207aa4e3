package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;

/** Who this shard is to its peers: what its HELLO says, with a fresh nonce on each connection. */
public record ShardIdentity(int group, int shard, long modelFingerprint) {
    Frame.Hello hello() {
        return new Frame.Hello(group, shard, modelFingerprint, PeerKey.nonce());
    }

    /** This shard's HELLO as a server: the nonce, and the proof over the client's HELLO and this one. */
    Frame.Hello answer(Frame.Hello client, PeerKey key) {
        Frame.Hello mine = hello();
        return new Frame.Hello(group, shard, modelFingerprint, mine.nonce(), key.serverProof(client, mine));
    }
}
