package dev.nuri.worker;

import dev.nuri.worker.group.LocalGroup;
import dev.nuri.worker.shard.Shard;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

/**
 * {@code shard}: one shard process (what runs in a pod; settings from NURI_* variables or flags).
 * {@code serve}: a whole expert-parallel group of shard processes on this machine, for trying Nuri out.
 * {@code bench}: the end-to-end throughput driver (see runtime-image/bench/run.sh).
 * {@code fetch-model}: an {@code http} model source's download, run as the shard pod's init container.
 * {@code run-batch}: a JSONL file of OpenAI requests sent to a worker at batch priority (vLLM's run_batch; docs/batch.md).
 */
public final class WorkerMain {
    private WorkerMain() {}

    public static void main(String[] args) throws Exception {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT %4$s %5$s%6$s%n");
        }
        if (args.length == 0) usage();
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "shard" -> shard(rest);
            case "serve" -> serve(rest);
            case "bench" -> dev.nuri.worker.bench.BenchMain.main(rest);
            case "fetch-model" -> fetchModel(rest);
            case "load" -> dev.nuri.worker.bench.LoadMain.main(rest);
            case "run-batch" -> dev.nuri.worker.batch.RunBatchMain.main(rest);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("""
                usage:
                  nuri-worker shard [--model builtin:tiny-axk1|<dir>] [--port 8000] [--shards N --shard-index i --peers h:p,...]
                                    (every flag also reads NURI_<FLAG> from the environment; see runtime-image/PLACEMENT.md)
                  nuri-worker serve --shards 4 [--model builtin:tiny-axk1] [--port 8000] [--peer-port 9000] [--heap 1g] [--exit-with-parent]
                  nuri-worker bench [--shards 1,2,4] [--concurrency 1,8,64] ...
                  nuri-worker fetch-model --url URL --sha256 HEX --dest DIR [--termination-log /dev/termination-log]
                  nuri-worker load --url http://host:8000 --rate 2 --duration 60 [--prompt-words 8:64] [--max-tokens 16:128]
                                   [--ttft-slo-ms 1000] [--itl-slo-ms 200] [--seed 1] [--model NAME] [--api-key KEY]
                  nuri-worker run-batch -i in.jsonl -o out.jsonl [--url http://127.0.0.1:8000] [--api-key KEY] [--concurrency 8]
                                   [--teacher-out teacher.safetensors [--teacher-top-k 5]]   (docs/batch.md)""");
        System.exit(2);
    }

    private static void shard(String[] args) throws InterruptedException {
        ShardSettings settings;
        try {
            settings = ShardSettings.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("nuri-worker: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (settings.bool(ShardSetting.EXIT_WITH_PARENT)) {
            // a launcher that dies without cleaning up (kill -9) must not leave shards behind
            ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> Runtime.getRuntime().halt(0)));
        }
        Shard shard;
        try {
            shard = Shard.start(settings, () -> System.exit(1));
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("nuri-worker: " + e.getMessage());
            System.exit(2);
            return;
        }
        Duration grace = Duration.ofSeconds(settings.integer(ShardSetting.DRAIN_SECONDS));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> shard.drainAndClose(grace), "nuri-shutdown"));
        Thread.currentThread().join();
    }

    /**
     * Downloads, checks and unpacks an http model source. A failure is also written to the
     * container's termination message, where the operator reads it into the ModelDeployment's
     * Degraded condition.
     */
    private static void fetchModel(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        String url = flags.string("url", System.getenv("NURI_MODEL_URL"));
        String sha256 = flags.string("sha256", System.getenv("NURI_MODEL_SHA256"));
        String dest = flags.string("dest", System.getenv("NURI_MODEL_DIR"));
        if (url == null || sha256 == null || dest == null) usage();
        Path terminationLog = Path.of(flags.string("termination-log", "/dev/termination-log"));
        long t0 = System.nanoTime();
        try {
            dev.nuri.worker.source.HttpModelSource.fetch(java.net.URI.create(url), sha256, Path.of(dest));
        } catch (dev.nuri.worker.source.HttpModelSource.FetchFailed e) {
            System.err.println("nuri-worker fetch-model: " + e.getMessage());
            try {
                java.nio.file.Files.writeString(terminationLog, e.getMessage());
            } catch (java.io.IOException ignored) {
                // not in a container: stderr has it
            }
            System.exit(1);
        }
        System.out.printf("nuri-worker fetch-model: %s unpacked into %s in %.1f s%n", url, dest, (System.nanoTime() - t0) / 1e9);
    }

    private static void serve(String[] args) throws Exception {
        CliFlags flags = CliFlags.parse(args);
        int shards = flags.integer("shards", 4);
        int port = flags.integer("port", ShardSetting.Defaults.PORT);
        String model = flags.string("model", ShardSetting.Defaults.MODEL);
        String jar = System.getProperty("java.class.path"); // the jar under `java -jar`, the class path under a test
        Map<String, String> extra = new java.util.HashMap<>();
        for (ShardSetting s : new ShardSetting[] {ShardSetting.WIRE_DTYPE, ShardSetting.PLACEMENT_FILE, ShardSetting.KV_CACHE_TOKENS,
                ShardSetting.MAX_BATCH, ShardSetting.SERVED_MODEL_NAME, ShardSetting.API_KEY, ShardSetting.CONTEXT_LENGTH,
                ShardSetting.QUANTIZATION, ShardSetting.QUANTIZE_LM_HEAD, ShardSetting.EXPERT_LOAD_WINDOW_SECONDS, ShardSetting.MAX_WAITING,
                ShardSetting.KERNEL_THREADS, ShardSetting.TWO_BATCH_OVERLAP_MIN_TOKENS}) {
            String v = flags.string(s.flag(), null);
            if (v != null) extra.put(s.env(), v);
        }
        // a key given in the environment (never on the command line) replaces the group's fresh one: a caller of the
        // internal endpoints that holds it (the operator's tests) can then read and move the group's experts
        String key = System.getenv(ShardSetting.PEER_KEY.env());
        if (key != null) extra.put(ShardSetting.PEER_KEY.env(), key);
        System.out.println("nuri: starting " + shards + " shard process(es) of " + model + " on 127.0.0.1 (HTTP ports "
                + port + ".." + (port + shards - 1) + ")");
        LocalGroup group = LocalGroup.start(new LocalGroup.Spec(shards, model, port, flags.integer("peer-port", ShardSetting.Defaults.PEER_PORT), jar,
                flags.string("heap", "1g"), extra, null));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("nuri: stopping the shard processes");
            group.close();
        }, "nuri-serve-shutdown"));
        if (flags.string("exit-with-parent", null) != null) {
            // a test that starts the group and is killed (kill -9) must not leave it running; the hook stops the shards
            ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> System.exit(0)));
        }
        long t0 = System.nanoTime();
        group.awaitReady(Duration.ofMinutes(10));
        String name = model.startsWith("builtin:") ? model.substring(8) : Path.of(model).getFileName().toString();
        System.out.printf("""

                nuri: the group is ready after %.1f s. Every shard accepts requests, e.g. shard 0:

                  curl -s http://127.0.0.1:%d/v1/models
                  curl -s http://127.0.0.1:%d/v1/completions -H 'Content-Type: application/json' \\
                       -d '{"model": "%s", "prompt": "Hello", "max_tokens": 16, "temperature": 0}'
                  curl -sN http://127.0.0.1:%d/v1/chat/completions -H 'Content-Type: application/json' \\
                       -d '{"model": "%s", "messages": [{"role": "user", "content": "안녕하세요"}], "max_tokens": 32, "stream": true}'
                  curl -s http://127.0.0.1:%d/metrics | grep nuri_

                The builtin model has random weights: expect fluent nonsense. Ctrl-C stops every shard.%s
                %n""", (System.nanoTime() - t0) / 1e9, port, port, name, port, name, port,
                flags.string("api-key", null) == null ? ""
                        : "\n      An API key is set: add -H 'Authorization: Bearer <your key>' to the /v1 requests.");
        for (int s = 0; s < shards; s++) group.process(s).onExit().join();
        System.out.println("nuri: all shards exited");
    }
}
