package dev.nuri.worker.group;

import dev.nuri.contract.PeerKey;
import dev.nuri.contract.ShardSetting;
import dev.nuri.worker.support.Http;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A two-shard group whose shards run in network namespaces of their own, joined by veth pairs on a bridge, with
 * faults injected on the shards' links (issue 18 item 1): delay with tc (netem, or a token bucket where the kernel
 * lacks netem), loss and partitions with iptables in the shard's namespace. Invariants: under latency, jitter and loss
 * a greedy completion has the same tokens as without; a partitioned peer makes requests fail fast with 503 and a
 * message; once healed the group serves again within a bound; 20 partition/heal cycles leak no threads, file
 * descriptors or memory in either shard.
 *
 * <p>Needs root and iproute2 (ip, tc), as hack/test has for the real node; elsewhere it is skipped, and hack/test's
 * report fails on the skip. About 3 minutes; hack/netfault-test runs it alone, -DexcludedGroups=long leaves it out.
 */
@Tag("netfault")
@Tag("long")
class ShardLinkFaultTest {
    static final int SHARDS = 2;
    static final int PEER_TIMEOUT_SECONDS = 3;
    static final int CYCLES = Integer.getInteger("nuri.netfault.cycles", 20);
    static final String ID = String.format("nf%04x", ThreadLocalRandom.current().nextInt(0x10000));
    static final int SUBNET = 100 + ThreadLocalRandom.current().nextInt(150);
    static final String BRIDGE = ID + "br";
    static final List<Process> shards = new ArrayList<>();
    static Path logs;
    static final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    static String ns(int shard) {
        return ID + "-" + shard;
    }

    /** The netns side of shard i's veth pair; the host side is {@link #hostIf}. */
    static String shardIf(int shard) {
        return ID + "n" + shard;
    }

    static String hostIf(int shard) {
        return ID + "h" + shard;
    }

    static String address(int shard) {
        return "10.231." + SUBNET + "." + (shard + 1);
    }

    static void sh(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static void shQuiet(String... command) {
        try {
            sh(command);
        } catch (RuntimeException e) {
            // cleanup of something that may not exist
        }
    }

    @BeforeAll
    static void start() throws IOException {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/sbin/tc")),
                "needs root and iproute2 (ip netns, tc netem)");
        logs = Files.createDirectories(Path.of("target", "netfault", ID));
        sh("ip", "link", "add", BRIDGE, "type", "bridge");
        sh("ip", "addr", "add", "10.231." + SUBNET + ".254/24", "dev", BRIDGE);
        sh("ip", "link", "set", BRIDGE, "up");
        for (int s = 0; s < SHARDS; s++) {
            sh("ip", "netns", "add", ns(s));
            sh("ip", "link", "add", hostIf(s), "type", "veth", "peer", "name", shardIf(s));
            sh("ip", "link", "set", shardIf(s), "netns", ns(s));
            sh("ip", "link", "set", hostIf(s), "master", BRIDGE);
            sh("ip", "link", "set", hostIf(s), "up");
            sh("ip", "netns", "exec", ns(s), "ip", "addr", "add", address(s) + "/24", "dev", shardIf(s));
            sh("ip", "netns", "exec", ns(s), "ip", "link", "set", shardIf(s), "up");
            sh("ip", "netns", "exec", ns(s), "ip", "link", "set", "lo", "up");
        }
        String key = PeerKey.generate();
        List<String> peers = new ArrayList<>();
        for (int s = 0; s < SHARDS; s++) peers.add(address(s) + ":9000");
        for (int s = 0; s < SHARDS; s++) {
            Map<String, String> env = new LinkedHashMap<>();
            env.put(ShardSetting.SHARD_INDEX.env(), Integer.toString(s));
            env.put(ShardSetting.SHARDS.env(), Integer.toString(SHARDS));
            env.put(ShardSetting.PEERS.env(), String.join(",", peers));
            env.put(ShardSetting.MODEL.env(), "builtin:tiny-axk1");
            env.put(ShardSetting.PORT.env(), "8000");
            env.put(ShardSetting.PEER_PORT.env(), "9000");
            // the test's own private address inside the shard's namespace, reachable only through the test's bridge
            env.put(ShardSetting.BIND_HOST.env(), address(s));
            env.put(ShardSetting.PEER_KEY.env(), key);
            env.put(ShardSetting.PEER_TIMEOUT_SECONDS.env(), Integer.toString(PEER_TIMEOUT_SECONDS));
            env.put(ShardSetting.EXIT_WITH_PARENT.env(), "true");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            // C1 only: C2 sums a vector's lanes in another order than the interpreter and C1 on AVX-512
            // (reduceLanes), so a shard's greedy tokens could change once C2 compiles its kernels, faults or not
            ProcessBuilder pb = new ProcessBuilder("ip", "netns", "exec", ns(s), java, "-Xmx256m", "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), "dev.nuri.worker.WorkerMain", "shard")
                    .redirectErrorStream(true).redirectOutput(logs.resolve("shard-" + s + ".log").toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("NURI_"));
            pb.environment().putAll(env);
            shards.add(pb.start());
        }
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500)).until(() -> ready(0) && ready(1));
    }

    @AfterAll
    static void stop() {
        for (Process p : shards) p.destroy();
        for (Process p : shards) {
            try {
                if (!p.waitFor(15, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        for (int s = 0; s < SHARDS; s++) {
            shQuiet("ip", "link", "del", hostIf(s));
            shQuiet("ip", "netns", "del", ns(s));
        }
        shQuiet("ip", "link", "del", BRIDGE);
    }

    static URI uri(int shard, String path) {
        return URI.create("http://" + address(shard) + ":8000" + path);
    }

    static boolean ready(int shard) {
        try {
            return client.send(HttpRequest.newBuilder(uri(shard, "/health/ready")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    record Reply(int status, String body, Duration took) {
        JsonObject json() {
            return new JsonObject(body);
        }
    }

    static Reply complete(int shard) throws Exception {
        JsonObject body = new JsonObject().put("prompt", "links under faults").put("max_tokens", 12)
                .put("temperature", 0).put("ignore_eos", true).put("logprobs", 0);
        long start = System.nanoTime();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri(shard, "/v1/completions"))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), Duration.ofNanos(System.nanoTime() - start));
    }

    static String tokens(Reply r) {
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json().getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs").getJsonArray("tokens").encode();
    }

    static boolean netemMissing;

    /**
     * Delay on both ends of shard s's link: netem's 20 ms ± 5 ms where the kernel has netem; else (this project's
     * Firecracker kernel has no sch_netem) a token bucket of 256 kbit/s, which holds each ~1 KB frame of the tiny
     * model about 30 ms, more for bursts: a slow link with queueing jitter.
     */
    static void slowLink(int shard) {
        if (!netemMissing) {
            try {
                qdisc(shard, "netem", "delay", "20ms", "5ms", "distribution", "normal");
                return;
            } catch (IllegalStateException e) {
                if (!e.getMessage().contains("qdisc kind is unknown")) throw e;
                netemMissing = true;
            }
        }
        qdisc(shard, "tbf", "rate", "256kbit", "burst", "1600", "latency", "500ms");
    }

    static void qdisc(int shard, String... params) {
        List<String> a = new ArrayList<>(List.of("ip", "netns", "exec", ns(shard), "tc", "qdisc", "replace", "dev",
                shardIf(shard), "root"));
        a.addAll(List.of(params));
        sh(a.toArray(String[]::new));
        List<String> b = new ArrayList<>(List.of("tc", "qdisc", "replace", "dev", hostIf(shard), "root"));
        b.addAll(List.of(params));
        sh(b.toArray(String[]::new));
    }

    /** Drops this share of the packets shard s sends and receives (iptables' statistic match in its namespace). */
    static void loss(int shard, double probability) {
        for (String chain : List.of("INPUT", "OUTPUT")) {
            if (probability >= 1) sh("ip", "netns", "exec", ns(shard), "iptables", "-A", chain, "-j", "DROP");
            else sh("ip", "netns", "exec", ns(shard), "iptables", "-A", chain, "-m", "statistic", "--mode", "random",
                    "--probability", Double.toString(probability), "-j", "DROP");
        }
    }

    static void heal(int shard) {
        shQuiet("ip", "netns", "exec", ns(shard), "tc", "qdisc", "del", "dev", shardIf(shard), "root");
        shQuiet("tc", "qdisc", "del", "dev", hostIf(shard), "root");
        sh("ip", "netns", "exec", ns(shard), "iptables", "-F");
    }

    /** Threads, open file descriptors and resident kB of a shard process, from /proc. */
    record Usage(long threads, long fds, long rssKb) {}

    static Usage usage(int shard) throws IOException {
        long pid = shards.get(shard).pid();
        long threads = 0, rss = 0;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Threads:")) threads = Long.parseLong(line.split("\\s+")[1]);
            if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.split("\\s+")[1]);
        }
        long fds;
        try (var list = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            fds = list.count();
        }
        return new Usage(threads, fds, rss);
    }

    @Test
    void latencyJitterAndLossKeepTheTokensAPartitionFailsFastAndHealsWithoutLeaks() throws Exception {
        String baseline = tokens(complete(0));

        slowLink(1);
        Reply slow = complete(0);
        assertThat(tokens(slow)).as("tokens with shard 1's link slowed").isEqualTo(baseline);
        heal(1);
        loss(1, 0.10);
        assertThat(tokens(complete(0))).as("tokens under 10% loss on shard 1's link").isEqualTo(baseline);
        heal(1);
        slowLink(0);
        loss(0, 0.05);
        assertThat(tokens(complete(1))).as("tokens from shard 1 with shard 0's link slow and lossy").isEqualTo(baseline);
        heal(0);
        System.out.printf("netfault: slow link by %s; completion over it took %s%n", netemMissing ? "tbf 256kbit" : "netem 20ms±5ms",
                slow.took());

        Usage[] first = null;
        List<Duration> failTimes = new ArrayList<>(), recoveryTimes = new ArrayList<>();
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            loss(1, 1.0); // shard 1 partitioned: nothing in or out
            Reply failed = complete(0);
            assertThat(failed.status()).as("cycle " + cycle + ": " + failed.body()).isEqualTo(503);
            JsonObject error = failed.json().getJsonObject("error");
            assertThat(error.getString("message")).as("cycle " + cycle).isNotBlank();
            failTimes.add(failed.took());
            assertThat(failed.took()).as("cycle " + cycle + ": fails within the peer timeout, not the client's")
                    .isLessThan(Duration.ofSeconds(PEER_TIMEOUT_SECONDS + 30)); // the client's is 60 s
            long healed = System.nanoTime();
            heal(1);
            // serving again, not only ready: a request right after readiness may still meet a dispatch that the
            // peer, busy re-handshaking on a loaded machine, answers past the 3 s timeout
            Reply[] served = new Reply[1];
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                served[0] = ready(0) && ready(1) ? complete(0) : null;
                return served[0] != null && served[0].status() == 200;
            });
            recoveryTimes.add(Duration.ofNanos(System.nanoTime() - healed));
            assertThat(tokens(served[0])).as("cycle " + cycle + ": tokens after healing").isEqualTo(baseline);
            if (cycle == 2) first = new Usage[] {usage(0), usage(1)}; // after warm-up
        }
        Usage[] last = {usage(0), usage(1)};
        System.out.printf("netfault: %d cycles; 503 after %s; serving again after %s; usage after cycle 2 %s, after %d %s%n",
                CYCLES, failTimes, recoveryTimes, List.of(first), CYCLES, List.of(last));
        for (int s = 0; s < SHARDS; s++) {
            assertThat(last[s].threads()).as("shard " + s + " threads").isLessThanOrEqualTo(first[s].threads() + 4);
            assertThat(last[s].fds()).as("shard " + s + " file descriptors").isLessThanOrEqualTo(first[s].fds() + 4);
            assertThat(last[s].rssKb()).as("shard " + s + " RSS kB").isLessThanOrEqualTo(first[s].rssKb() * 5 / 4 + 32 * 1024);
        }
    }
}
