package dev.nuri.worker.group;

import dev.nuri.contract.PeerKey;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.WorkerJvm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An expert-parallel group of shard processes on loopback: child JVMs running {@code WorkerMain shard}, wired
 * through the same environment variables the operator sets in a pod. Used by {@code serve}, the tests and the
 * benchmark.
 */
public final class LocalGroup implements AutoCloseable {
    /**
     * @param classpath the classpath of the child JVMs (the shaded jar, or the test classpath)
     * @param extraEnv more NURI_* settings for every shard
     * @param logs where child output goes: null inherits this process's stdout with a "[shard i]" prefix
     */
    public record Spec(int shards, String model, int basePort, int basePeerPort, String classpath, String heap,
                       Map<String, String> extraEnv, Path logs) {}

    private final Spec spec;
    /** The group's peer key, made here: the shards of one local group share it and nothing else has it. */
    private final String peerKey = PeerKey.generate();
    private final int[] httpPorts;
    private final int[] peerPorts;
    private final Process[] processes;
    private boolean pinToCores;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private LocalGroup(Spec spec) {
        this.spec = spec;
        this.httpPorts = new int[spec.shards()];
        this.peerPorts = new int[spec.shards()];
        this.processes = new Process[spec.shards()];
        for (int s = 0; s < spec.shards(); s++) {
            httpPorts[s] = spec.basePort() > 0 ? spec.basePort() + s : freePort();
            peerPorts[s] = spec.basePeerPort() > 0 ? spec.basePeerPort() + s : freePort();
        }
    }

    public static LocalGroup start(Spec spec) {
        return start(spec, false);
    }

    /**
     * @param pinToCores run shard i on core i (modulo the cores), through {@code taskset}: a benchmark of "one core per
     *                   shard" on one machine
     */
    public static LocalGroup start(Spec spec, boolean pinToCores) {
        LocalGroup group = new LocalGroup(spec);
        group.pinToCores = pinToCores;
        for (int s = 0; s < spec.shards(); s++) group.startShard(s);
        return group;
    }

    /**
     * A free port below Linux's ephemeral range (32768+): an ephemeral port found free here could be
     * taken by another shard's outgoing connection before the shard binds it (seen in CI).
     */
    private static int freePort() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(12000);
            if (!TAKEN.add(port)) continue;
            try (ServerSocket socket = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
                return socket.getLocalPort();
            } catch (IOException e) {
                // in use: try another
            }
        }
        throw new UncheckedIOException(new IOException("no free port found in 20000-31999"));
    }

    /** Ports handed out by this JVM, so two groups started one after the other never share one. */
    private static final java.util.Set<Integer> TAKEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public Map<String, String> environment(int shard) {
        List<String> peers = new ArrayList<>();
        for (int p : peerPorts) peers.add("127.0.0.1:" + p);
        Map<String, String> env = new LinkedHashMap<>();
        env.put(ShardSetting.GROUP_INDEX.env(), "0");
        env.put(ShardSetting.SHARD_INDEX.env(), Integer.toString(shard));
        env.put(ShardSetting.SHARDS.env(), Integer.toString(spec.shards()));
        env.put(ShardSetting.PEERS.env(), String.join(",", peers));
        env.put(ShardSetting.MODEL.env(), spec.model());
        env.put(ShardSetting.PORT.env(), Integer.toString(httpPorts[shard]));
        env.put(ShardSetting.PEER_PORT.env(), Integer.toString(peerPorts[shard]));
        env.put(ShardSetting.BIND_HOST.env(), "127.0.0.1");
        env.put(ShardSetting.PEER_KEY.env(), peerKey);
        env.putAll(spec.extraEnv());
        return env;
    }

    /** Starts (or restarts) one shard process. */
    public synchronized void startShard(int shard) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>();
        if (pinToCores) command.addAll(List.of("taskset", "-c", Integer.toString(shard % Runtime.getRuntime().availableProcessors())));
        command.add(java);
        command.addAll(WorkerJvm.OPTIONS); // as in a pod, with the heap capped by --heap instead of the memory limit
        command.addAll(List.of("-Xmx" + spec.heap(), "-XX:TieredStopAtLevel=4",
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Djava.util.logging.SimpleFormatter.format=%1$tT %4$s %5$s%6$s%n",
                "-cp", spec.classpath(), "dev.nuri.worker.WorkerMain", "shard", "--" + ShardSetting.EXIT_WITH_PARENT.flag()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("NURI_"));
        pb.environment().putAll(environment(shard));
        if (spec.logs() != null) {
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(spec.logs().resolve("shard-" + shard + ".log").toFile()));
        }
        try {
            processes[shard] = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start shard " + shard, e);
        }
        if (spec.logs() == null) pipe(processes[shard], "[shard " + shard + "] ", System.out);
    }

    private static void pipe(Process p, String prefix, PrintStream out) {
        Thread.ofPlatform().daemon(true).name("nuri-log-" + p.pid()).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) out.println(prefix + line);
            } catch (IOException ignored) {
                // the child is gone
            }
        });
    }

    /** SIGKILL: the shard disappears without draining, as a crashed pod would. */
    public void kill(int shard) throws InterruptedException {
        Process p = processes[shard];
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** The group's peer key (hex), for a caller of its internal endpoints: a test, a benchmark driver. */
    public String peerKey() {
        return peerKey;
    }

    public int httpPort(int shard) {
        return httpPorts[shard];
    }

    public int peerPort(int shard) {
        return peerPorts[shard];
    }

    public int shards() {
        return spec.shards();
    }

    public Process process(int shard) {
        return processes[shard];
    }

    public boolean ready(int shard) {
        try {
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPorts[shard] + "/health/ready"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
            return r.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public boolean allReady() {
        for (int s = 0; s < spec.shards(); s++) if (!ready(s)) return false;
        return true;
    }

    /** Polls readiness until every shard is ready; fails early when a shard process exits. */
    public void awaitReady(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!allReady()) {
            for (int s = 0; s < spec.shards(); s++) {
                if (!processes[s].isAlive()) {
                    throw new IllegalStateException("shard " + s + " exited with status " + processes[s].exitValue());
                }
            }
            if (System.nanoTime() > deadline) throw new IllegalStateException("the group was not ready within " + timeout);
            Thread.sleep(100); // polling interval between readiness probes
        }
    }

    /** SIGTERM to every shard (they drain), then SIGKILL what is left after the grace period. */
    @Override
    public void close() {
        for (Process p : processes) if (p != null) p.destroy();
        for (Process p : processes) {
            if (p == null) continue;
            try {
                if (!p.waitFor(15, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
