package dev.nuri.worker.group;

import dev.nuri.contract.Frame;
import dev.nuri.contract.PeerKey;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.WireDType;
import dev.nuri.kernels.model.CausalLm;
import dev.nuri.kernels.model.ModelConfig;
import dev.nuri.worker.shard.Shard;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The peer port as an outsider sees it: raw sockets from this test JVM against a real group of two shard processes
 * (issue 10, defect 2). Every attack must leave the connection closed, nothing computed or leaked, exactly one WARNING
 * line in the shard's log, and the group serving real requests.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PeerSecurityTest {
    static final String KEY_HEX = PeerKey.generate();
    static final PeerKey KEY = PeerKey.parse(KEY_HEX);
    static GroupFixture group;
    static ModelConfig config;
    static long fingerprint;
    static Frame.Limits limits;

    @BeforeAll
    static void start() {
        config = CausalLm.builtin("tiny-axk1").config();
        fingerprint = Shard.modelFingerprint(config);
        limits = new Frame.Limits(config.hiddenSize(), 4096, config.topK(), config.numExperts());
        // the test holds the group's key, as a shard would, for the attacks that need a finished handshake
        group = new GroupFixture(2, Map.of(ShardSetting.PEER_KEY.env(), KEY_HEX));
    }

    @AfterAll
    static void stop() {
        if (group != null) group.close();
    }

    @AfterEach
    void groupStillServes() {
        for (int s = 0; s < 2; s++) {
            assertThat(group.group.process(s).isAlive()).as("shard %d alive", s).isTrue();
            var r = group.http(s).post("/v1/completions", GroupFixture.greedy("still serving", 4));
            assertThat(r.status()).as("shard %d: %s", s, r.body()).isEqualTo(200);
        }
    }

    @Test
    @Order(1)
    void dispatchWithoutHandshakeIsNotServed() throws IOException {
        try (Outsider o = new Outsider(0)) {
            o.send(dispatch(2)); // longer than any handshake frame: refused from its length prefix
            o.assertClosedWithoutAnswer();
            o.assertOneWarning("frame length " + (dispatch(2).encode().length - 4) + " is outside 1.." + Frame.HANDSHAKE_MAX_BYTES);
        }
        try (Outsider o = new Outsider(0)) {
            o.send(new Frame.Proof(PeerKey.nonce()));
            o.assertClosedWithoutAnswer();
            o.assertOneWarning("unexpected PROOF before the handshake was done");
        }
    }

    @Test
    @Order(2)
    void wrongKeyIsRefusedBothWays() throws IOException {
        PeerKey wrong = PeerKey.parse(PeerKey.generate());
        try (Outsider o = new Outsider(0)) {
            Frame.Hello mine = new Frame.Hello(0, 1, fingerprint, PeerKey.nonce());
            o.send(mine);
            Frame.Hello server = (Frame.Hello) o.read();
            assertThat(PeerKey.matches(wrong.serverProof(mine, server), server.proof())).as("server proof under a wrong key").isFalse();
            o.send(new Frame.Proof(wrong.clientProof(mine, server)));
            o.send(dispatch(2));
            o.assertClosedWithoutAnswer();
            o.assertOneWarning("wrong PROOF from shard 1: it does not hold this group's peer key");
        }
    }

    @Test
    @Order(3)
    void helloForAnotherGroupOrModelIsRefused() throws IOException {
        try (Outsider o = new Outsider(0)) {
            o.send(new Frame.Hello(7, 1, fingerprint, PeerKey.nonce()));
            o.assertClosedWithoutAnswer();
            o.assertOneWarning("HELLO for group 7");
        }
        try (Outsider o = new Outsider(0)) {
            o.send(new Frame.Hello(0, 1, fingerprint ^ 1, PeerKey.nonce()));
            o.assertClosedWithoutAnswer();
            o.assertOneWarning("HELLO for group 0, model");
        }
    }

    @Test
    @Order(4)
    void hugeHeadersAndLengthsAreRefusedBeforeAllocating() throws IOException {
        // 24 bytes announcing a 20000 x 20000 COMBINE, before and after the handshake
        for (boolean handshake : new boolean[] {false, true}) {
            try (Outsider o = new Outsider(0)) {
                if (handshake) o.handshake();
                o.sendRaw(combineHeader(20000, 20000));
                o.assertClosedWithoutAnswer();
                o.assertOneWarning("COMBINE hidden size 20000 is not the model's " + config.hiddenSize());
            }
            try (Outsider o = new Outsider(0)) {
                if (handshake) o.handshake();
                o.sendRaw(dispatchHeader(20000, 20000));
                o.assertClosedWithoutAnswer();
                o.assertOneWarning(handshake ? "is outside 1.." + limitsOfTheShard() : "outside 1.." + Frame.HANDSHAKE_MAX_BYTES);
            }
            try (Outsider o = new Outsider(0)) {
                if (handshake) o.handshake();
                ByteBuffer b = ByteBuffer.allocate(4 + 4096).order(ByteOrder.LITTLE_ENDIAN).putInt(0x7fffffff);
                o.sendRaw(b.array());
                o.assertClosedWithoutAnswer();
                o.assertOneWarning("frame length 2147483647 is outside 1..");
            }
        }
        assertThat(logs(0)).doesNotContain("OutOfMemoryError");
    }

    @Test
    @Order(5)
    void aFloodOfDispatchesDoesNotStarveTheGroup() throws Exception {
        try (Outsider o = new Outsider(0)) {
            o.handshake();
            Thread flood = Thread.ofPlatform().start(() -> {
                try {
                    byte[] frame = dispatch(64).encode();
                    for (int i = 0; i < 2000; i++) o.sendRaw(frame); // never reads the answers
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            for (int i = 0; i < 3; i++) {
                long t0 = System.nanoTime();
                var r = group.http(1).post("/v1/completions", GroupFixture.greedy("during a flood", 8));
                assertThat(r.status()).isEqualTo(200);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
            }
            flood.interrupt();
        }
    }

    @Test
    @Order(6)
    void anImpostorOnAKilledShardsPortGetsNoActivationsAndTheGroupStaysUnready() throws Exception {
        group.group.kill(1);
        int port = group.group.peerPort(1);
        List<Integer> bytesPerConnection = new CopyOnWriteArrayList<>();
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket impostor = new ServerSocket()) {
            impostor.setReuseAddress(true);
            impostor.bind(new InetSocketAddress("127.0.0.1", port));
            Thread.ofPlatform().daemon().start(() -> {
                while (!impostor.isClosed()) {
                    try (Socket s = impostor.accept()) {
                        connections.incrementAndGet();
                        s.setSoTimeout(2000);
                        InputStream in = s.getInputStream();
                        ByteArrayOutputStream got = new ByteArrayOutputStream();
                        byte[] buf = new byte[65536];
                        // it reads the HELLO, answers as shard 1 with a proof it cannot make, and records what follows
                        int n = in.read(buf);
                        if (n > 0) got.write(buf, 0, n);
                        s.getOutputStream().write(new Frame.Hello(0, 1, fingerprint, PeerKey.nonce(), PeerKey.nonce()).encode());
                        try {
                            while ((n = in.read(buf)) > 0) got.write(buf, 0, n);
                        } catch (SocketTimeoutException | java.net.SocketException ignored) {
                            // the shard hung up (or went quiet)
                        }
                        bytesPerConnection.add(got.size());
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            await().atMost(Duration.ofSeconds(60)).until(() -> connections.get() >= 3);
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(30)).until(() -> !group.group.ready(0));
            assertThat(group.http(0).get("/health/ready").body()).contains("does not hold this group's peer key");
            // nothing but the shard's HELLO ever reached the impostor: no PROOF, no DISPATCH, no hidden state
            assertThat(bytesPerConnection).isNotEmpty().allSatisfy(n -> assertThat(n).isEqualTo(4 + Frame.HANDSHAKE_MAX_BYTES));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(count(logs(0),
                    "the process at 127.0.0.1:" + port + " does not hold this group's peer key")).as("one WARNING for a repeated failure")
                    .isEqualTo(1));
        }
        group.group.startShard(1);
        group.group.awaitReady(Duration.ofSeconds(120));
    }

    // --- an outsider's raw socket ---

    static Frame.Dispatch dispatch(int tokens) {
        int h = config.hiddenSize();
        int k = config.topK();
        int[] experts = new int[tokens * k];
        for (int i = 0; i < experts.length; i++) experts[i] = i % k == 0 ? 0 : -1;
        return new Frame.Dispatch(1, 0, config.moeLayers()[0], WireDType.F32, tokens, h, k, experts, new float[tokens * k],
                new float[tokens * h]);
    }

    /** Only the header: length, kind, call, layer, dtype, tokens, hidden. */
    static byte[] combineHeader(int tokens, int hidden) {
        return ByteBuffer.allocate(4 + 20).order(ByteOrder.LITTLE_ENDIAN).putInt(20).put((byte) Frame.COMBINE).putLong(1)
                .putShort((short) 0).put((byte) 0).putInt(tokens).putInt(hidden).array();
    }

    /** A DISPATCH header whose length prefix covers the 20000 x 20000 body it announces. */
    static byte[] dispatchHeader(int tokens, int hidden) {
        long body = 29L + (long) tokens * 8 * 6 + (long) tokens * hidden * 4;
        return ByteBuffer.allocate(4 + 29).order(ByteOrder.LITTLE_ENDIAN).putInt((int) Math.min(body, Integer.MAX_VALUE))
                .put((byte) Frame.DISPATCH).putLong(1).putLong(0).putShort((short) 1).put((byte) 0).put((byte) 8).putInt(tokens)
                .putInt(hidden).array();
    }

    /** The shard's cap: the largest frame its model and batch limit allow. */
    static int limitsOfTheShard() {
        return new Frame.Limits(config.hiddenSize(), dev.nuri.worker.shard.Shard.maxStepTokens(config.maxPositionEmbeddings(),
                ShardSetting.Defaults.MAX_BATCH, ShardSetting.Defaults.MAX_BATCHED_TOKENS),
                config.topK(), config.numExperts()).maxFrameBytes();
    }

    static String logs(int shard) throws IOException {
        return Files.readString(group.logs.resolve("shard-" + shard + ".log"));
    }

    static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) n++;
        return n;
    }

    final class Outsider implements AutoCloseable {
        final Socket socket;
        final DataInputStream in;
        final OutputStream out;

        Outsider(int shard) throws IOException {
            socket = new Socket("127.0.0.1", group.group.peerPort(shard));
            socket.setSoTimeout(10_000);
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        void send(Frame f) throws IOException {
            sendRaw(f.encode());
        }

        void sendRaw(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        Frame read() throws IOException {
            byte[] len = in.readNBytes(4);
            int n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
            return Frame.decode(ByteBuffer.wrap(in.readNBytes(n)), limits);
        }

        /** The right key: what a real peer does, so that later frames reach the checks behind the handshake. */
        void handshake() throws IOException {
            Frame.Hello mine = new Frame.Hello(0, 1, fingerprint, PeerKey.nonce());
            send(mine);
            Frame.Hello server = (Frame.Hello) read();
            assertThat(PeerKey.matches(KEY.serverProof(mine, server), server.proof())).isTrue();
            send(new Frame.Proof(KEY.clientProof(mine, server)));
        }

        /** The shard closes the connection and sent nothing (no COMBINE, no FAILURE) before it did. */
        void assertClosedWithoutAnswer() throws IOException {
            try {
                int b = in.read();
                assertThat(b).as("the shard answered instead of closing the connection").isEqualTo(-1);
            } catch (java.net.SocketException reset) {
                // closed with unread data pending: a reset is a close too
            }
        }

        /** Exactly one WARNING line about this connection in shard 0's log, and no stack trace. */
        void assertOneWarning(String reason) {
            String who = "peer connection from " + socket.getLocalAddress().getHostAddress() + ":" + socket.getLocalPort() + " closed: ";
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                List<String> lines = Files.readAllLines(group.logs.resolve("shard-0.log")).stream().filter(l -> l.contains(who)).toList();
                assertThat(lines).singleElement().satisfies(l -> assertThat(l).contains("WARNING").contains(reason));
            });
            try {
                assertThat(logs(0)).doesNotContain("\tat dev.nuri");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
