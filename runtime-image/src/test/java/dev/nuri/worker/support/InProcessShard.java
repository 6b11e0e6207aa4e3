package dev.nuri.worker.support;

import dev.nuri.worker.shard.Shard;
import dev.nuri.contract.ShardSetting;
import dev.nuri.contract.ShardSettings;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;

/** A single-shard worker with the real kernels (the builtin model unless told otherwise), in the test JVM, on a free port. */
public final class InProcessShard implements AutoCloseable {
    public final Shard shard;
    public final Http http;

    private InProcessShard(Shard shard) {
        this.shard = shard;
        this.http = new Http(shard.httpPort());
    }

    public static InProcessShard start(String... extraFlags) {
        return startModel("builtin:tiny-axk1", extraFlags);
    }

    /** A shard of another model: a builtin name or a checkpoint directory. */
    public static InProcessShard startModel(String model, String... extraFlags) {
        List<String> args = new ArrayList<>(List.of("--model", model, "--port", "0"));
        args.addAll(List.of(extraFlags));
        Shard shard = Shard.start(ShardSettings.parse(args.toArray(String[]::new), kernelSettings()));
        await().atMost(Duration.ofSeconds(60)).until(() -> shard.notReadyReason() == null);
        return new InProcessShard(shard);
    }

    /**
     * The kernel settings this test run was given ({@code NURI_KERNEL_THREADS=1 ./mvnw ...} runs the tests with the
     * pool off), for every shard a test starts: in process here, as child processes in GroupFixture. Nothing else of
     * the test's environment: a shard's other settings are the test's own choice.
     */
    public static Map<String, String> kernelSettings() {
        String threads = System.getenv(ShardSetting.KERNEL_THREADS.env());
        return threads == null ? Map.of() : Map.of(ShardSetting.KERNEL_THREADS.env(), threads);
    }

    @Override
    public void close() {
        shard.close();
    }
}
