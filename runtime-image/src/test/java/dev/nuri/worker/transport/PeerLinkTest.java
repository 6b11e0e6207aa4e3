package dev.nuri.worker.transport;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.WireDType;
import dev.nuri.worker.metrics.WorkerMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two shards' links and expert servers over loopback TCP, where shard 0's configured address of shard 1 is stale, as a
 * StatefulSet pod's name is for a while after the pod was recreated at another IP (seen on the real node: the group's
 * pods all Ready, and the surviving shard still refused requests, timing out on the old address).
 */
class PeerLinkTest {
    static final PeerKey KEY = PeerKey.parse(PeerKey.generate());
    static final Frame.Limits LIMITS = new Frame.Limits(4, 8, 2, 4);
    final Vertx vertx = Vertx.vertx();
    final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open.reversed()) c.close();
        vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    /** Shard {@code shard}'s expert server on 127.0.0.1 (answers each dispatch with its hidden vector doubled). */
    ExpertServer server(int shard, PeerKey key, PeerLink[] linksOfThisShard) throws Exception {
        ExpertServer s = new ExpertServer(d -> {
            float[] out = d.vectors().clone();
            for (int i = 0; i < out.length; i++) out[i] *= 2;
            return out;
        }, new ShardIdentity(0, shard, 42), 2, key, LIMITS, new WorkerMetrics("test", shard).expertComputeForPeers,
                (from, peer) -> {
                    if (linksOfThisShard[peer] != null) linksOfThisShard[peer].peerCalledFrom(from);
                });
        s.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        open.add(s);
        return s;
    }

    PeerLink link(int from, int to, PeerKey key, String address) {
        PeerLink l = new PeerLink(vertx, vertx.createNetClient(new NetClientOptions().setConnectTimeout(2000)),
                new ShardIdentity(0, from, 42), key, LIMITS, to, address);
        open.add(l);
        l.start();
        return l;
    }

    @Test
    void aPeerWhoseNameIsStaleIsReachedAtTheAddressItsOwnLinkCameFromThenByNameOnceLost() throws Exception {
        PeerLink[] linksOf0 = new PeerLink[2];
        ExpertServer server0 = server(0, KEY, linksOf0);
        ExpertServer server1 = server(1, KEY, new PeerLink[2]);
        // 127.0.0.2 is loopback too, and nothing listens there: the old address of a recreated pod
        String stale = "127.0.0.2:" + server1.actualPort();
        linksOf0[1] = link(0, 1, KEY, stale);
        await().atMost(Duration.ofSeconds(10)).until(() -> linksOf0[1].lastError().contains("127.0.0.2"));
        assertThat(linksOf0[1].connected()).isFalse();

        // a process without the group's key calling shard 0 does not redirect its link
        link(1, 0, PeerKey.parse(PeerKey.generate()), "127.0.0.1:" + server0.actualPort());
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !linksOf0[1].connected());

        // shard 1's own link authenticates with shard 0: shard 0 connects back to where it came from
        PeerLink oneToZero = link(1, 0, KEY, "127.0.0.1:" + server0.actualPort());
        await().atMost(Duration.ofSeconds(10)).until(() -> oneToZero.connected() && linksOf0[1].connected());
        assertThat(linksOf0[1].address()).isEqualTo(stale + " (127.0.0.1)");
        float[] hidden = {1, 2, 3, 4};
        Frame.Combine answer = linksOf0[1].call(id -> new Frame.Dispatch(id, 0, 0, WireDType.F32, 1, 4, 2,
                new int[] {0, 1}, new float[] {0.5f, 0.5f}, hidden)).get(5, TimeUnit.SECONDS);
        assertThat(answer.vectors()).containsExactly(2, 4, 6, 8);

        // the peer goes away: the next attempts use the name again
        server1.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> !linksOf0[1].connected() && linksOf0[1].lastError().contains("127.0.0.2"));
    }
}
