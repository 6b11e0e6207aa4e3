package dev.nuri.worker.moe;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.PlacementFile;
import dev.nuri.contract.PlacementStrategy;
import dev.nuri.contract.WireDType;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.ModelConfig;
import dev.nuri.worker.metrics.WorkerMetrics;
import dev.nuri.worker.transport.ExpertServer;
import dev.nuri.worker.transport.PeerLink;
import dev.nuri.worker.transport.ShardIdentity;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The dispatcher of shard 0 of a two-shard group, against a real expert server for shard 1 over loopback TCP (both in
 * this JVM, the builtin model's real experts): what it sends where, and that the sum equals all experts computed
 * locally.
 */
class ExpertDispatcherTest {
    static final int TOKENS = 12;
    static final PeerKey KEY = PeerKey.parse(PeerKey.generate());
    static CausalLm model;
    static ModelConfig config;
    static int layer;
    static Vertx vertx;
    static final List<Frame.Dispatch> received = new CopyOnWriteArrayList<>();
    static volatile boolean failPeer;
    /** the thread each peer dispatch was computed on, and whether it was an event loop's */
    static final List<String> computedOn = new CopyOnWriteArrayList<>();
    static ExpertServer server;

    @BeforeAll
    static void start() throws Exception {
        model = CausalLm.builtin("tiny-axk1");
        config = model.config();
        layer = config.moeLayers()[0];
        vertx = Vertx.vertx();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    /** Shard 0's dispatcher for the given placement, with shard 1 served by a real expert server (started once). */
    static ExpertDispatcher dispatcher(PlacementFile placement, boolean connectPeer) throws Exception {
        ShardIdentity shard0 = new ShardIdentity(0, 0, 42);
        Frame.Limits limits = new Frame.Limits(config.hiddenSize(), 64, config.topK(), config.numExperts());
        ExpertHost host1 = new ExpertHost(model, 1, placement);
        ExpertServer s = new ExpertServer(d -> {
            received.add(d);
            computedOn.add(Thread.currentThread().getName() + (io.vertx.core.Context.isOnEventLoopThread()
                    && Vertx.currentContext().owner() != vertx ? " (the expert server's event loop)" : ""));
            if (failPeer) throw new IllegalStateException("no expert 99 here");
            return host1.compute(d);
        }, new ShardIdentity(0, 1, 42), 2, KEY, limits, new WorkerMetrics("test", 1).expertComputeForPeers, (from, peer) -> { });
        s.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        if (server != null) server.close();
        server = s;
        PeerLink link = new PeerLink(vertx, vertx.createNetClient(new NetClientOptions()), shard0, KEY, limits, 1,
                "127.0.0.1:" + (connectPeer ? s.actualPort() : 1));
        link.start();
        if (connectPeer) await().atMost(Duration.ofSeconds(30)).until(link::connected);
        WorkerMetrics metrics = new WorkerMetrics("test", 0);
        return new ExpertDispatcher(0, new ExpertHost(model, 0, placement), new PeerLink[] {null, link},
                WireDType.F32, Duration.ofSeconds(10), metrics, new MoeLoad(config.numExperts(), 2, config.numLayers(), config.moeLayers(), java.time.Duration.ofSeconds(60), metrics));
    }

    /** A batch routed as the model's router would: k distinct experts per token, weights summing to one. */
    record Batch(float[] hidden, int[] experts, float[] weights) {}

    static Batch batch(long seed) {
        Random r = new Random(seed);
        int h = config.hiddenSize();
        int k = config.topK();
        float[] hidden = new float[TOKENS * h];
        for (int i = 0; i < hidden.length; i++) hidden[i] = (float) r.nextGaussian();
        int[] experts = new int[TOKENS * k];
        float[] weights = new float[TOKENS * k];
        for (int t = 0; t < TOKENS; t++) {
            int[] chosen = r.ints(0, config.numExperts()).distinct().limit(k).toArray();
            for (int j = 0; j < k; j++) {
                experts[t * k + j] = chosen[j];
                weights[t * k + j] = 1f / k;
            }
        }
        return new Batch(hidden, experts, weights);
    }

    static float[] allLocal(Batch b) {
        float[] out = new float[b.hidden.length];
        model.localExperts().apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, out);
        return out;
    }

    @Test
    void sumOfLocalAndPeerExpertsEqualsAllExpertsInOneProcess() throws Exception {
        received.clear();
        ExpertDispatcher d = dispatcher(PlacementStrategy.STATIC.layout(config.numExperts(), 2, 0, 1), true);
        Batch b = batch(1);
        float[] out = new float[b.hidden.length];
        d.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, out);
        float[] expected = allLocal(b);
        for (int i = 0; i < out.length; i++) assertThat(out[i]).as("element %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-4f));
    }

    /**
     * Issue 15, fewer thread hand-offs: the expert server computes a DISPATCH on the event loop that read it and writes
     * the answer from there (its own loop, not the one of the client's links), instead of handing it to a compute
     * thread and the answer back to the loop.
     */
    @Test
    void aPeersDispatchIsComputedOnTheEventLoopThatReadIt() throws Exception {
        computedOn.clear();
        ExpertDispatcher d = dispatcher(PlacementStrategy.STATIC.layout(config.numExperts(), 2, 0, 1), true);
        Batch b = batch(3);
        d.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, new float[b.hidden.length]);
        assertThat(computedOn).hasSize(1).allMatch(t -> t.endsWith("(the expert server's event loop)"));
    }

    @Test
    void oneShardComputesEverythingLocallyIntoTheOutput() {
        PlacementFile placement = PlacementStrategy.STATIC.layout(config.numExperts(), 1, 0, 1);
        WorkerMetrics metrics = new WorkerMetrics("test", 0);
        ExpertDispatcher d = new ExpertDispatcher(0, new ExpertHost(model, 0, placement), new PeerLink[1],
                WireDType.F32, Duration.ofSeconds(1), metrics, new MoeLoad(config.numExperts(), 1, config.numLayers(), config.moeLayers(), java.time.Duration.ofSeconds(60), metrics));
        Batch b = batch(5);
        float[] out = new float[b.hidden.length];
        d.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, out);
        // same experts, same order; only the JIT's choice of fused or separate multiply-adds may differ
        assertThat(out).containsExactly(allLocal(b), org.assertj.core.data.Offset.offset(1e-5f));
    }

    @Test
    void peerGetsEachOfItsTokensOnceWithTheRoutersSlotsAndTheOthersEmpty() throws Exception {
        received.clear();
        int half = config.numExperts() / 2; // static: shard 1 holds experts half..E-1
        ExpertDispatcher d = dispatcher(PlacementStrategy.STATIC.layout(config.numExperts(), 2, 0, 1), true);
        Batch b = batch(2);
        d.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, new float[b.hidden.length]);

        int k = config.topK();
        int h = config.hiddenSize();
        assertThat(received).hasSize(1);
        Frame.Dispatch sent = received.getFirst();
        assertThat(sent.k()).isEqualTo(k);
        int row = 0;
        for (int t = 0; t < TOKENS; t++) {
            boolean onPeer = false;
            for (int j = 0; j < k; j++) onPeer |= b.experts[t * k + j] >= half;
            if (!onPeer) continue;
            for (int j = 0; j < k; j++) {
                int e = b.experts[t * k + j];
                assertThat(sent.experts()[row * k + j]).as("token %d slot %d", t, j).isEqualTo(e >= half ? e : -1);
                if (e >= half) assertThat(sent.weights()[row * k + j]).isEqualTo(b.weights[t * k + j]);
            }
            for (int i = 0; i < h; i++) assertThat(sent.vectors()[row * h + i]).isEqualTo(b.hidden[t * h + i]);
            row++;
        }
        assertThat(sent.tokens()).isEqualTo(row);
    }

    @Test
    void redundantCopiesAreSpreadByTokenPosition() throws Exception {
        received.clear();
        // expert 0 on both shards, every other expert on shard 0 only
        int[] all = java.util.stream.IntStream.range(0, config.numExperts()).toArray();
        PlacementFile placement = new PlacementFile(1, config.numExperts(), 2, new int[][] {all, {0}}, Map.of());
        ExpertDispatcher d = dispatcher(placement, true);
        Batch b = batch(3);
        int k = config.topK();
        for (int t = 0; t < TOKENS; t++) b.experts[t * k] = 0; // every token chooses expert 0 first
        for (int t = 0; t < TOKENS; t++) for (int j = 1; j < k; j++) if (b.experts[t * k + j] == 0) b.experts[t * k + j] = 1 + j;
        float[] out = new float[b.hidden.length];
        d.apply(layer, TOKENS, k, b.hidden, b.experts, b.weights, out);
        // owners of expert 0 are [0, 1]: odd positions go to shard 1
        assertThat(received).singleElement().satisfies(sent -> assertThat(sent.tokens()).isEqualTo(TOKENS / 2));
        float[] expected = allLocal(b);
        for (int i = 0; i < out.length; i++) assertThat(out[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-4f));
    }

    @Test
    void aPeerThatIsNotConnectedOrFailsFailsTheCall() throws Exception {
        Batch b = batch(4);
        PlacementFile placement = PlacementStrategy.STATIC.layout(config.numExperts(), 2, 0, 1);
        ExpertDispatcher unconnected = dispatcher(placement, false);
        assertThatThrownBy(() -> unconnected.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, new float[b.hidden.length]))
                .isInstanceOf(ExpertsUnavailableException.class).hasMessageContaining("peer shard 1 is not connected");
        failPeer = true;
        try {
            ExpertDispatcher failing = dispatcher(placement, true);
            assertThatThrownBy(() -> failing.apply(layer, TOKENS, config.topK(), b.hidden, b.experts, b.weights, new float[b.hidden.length]))
                    .isInstanceOf(ExpertsUnavailableException.class)
                    .hasMessageContaining("peer shard 1 failed to compute its experts: no expert 99 here");
        } finally {
            failPeer = false;
        }
    }
}
