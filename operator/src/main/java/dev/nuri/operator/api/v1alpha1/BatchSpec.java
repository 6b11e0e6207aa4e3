package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import dev.nuri.contract.ShardSetting.Defaults;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** The OpenAI Files and Batch API of the workers, and how batch work shares the engine (docs/batch.md). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class BatchSpec {

    /** The worker's own default (shard-contract): a pod without the variable behaves as this field's description says. */
    public static final int DEFAULT_STEP_TOKENS = Defaults.BATCH_STEP_TOKENS;

    @Min(1)
    @JsonPropertyDescription("Most tokens of batch work (requests sent with X-Nuri-Priority: batch: run-batch, the Batch API) "
            + "in one engine step while no interactive request is admitted or waiting. An interactive request that arrives "
            + "waits for the step in progress, so this bounds what a running batch adds to its time to first token; higher "
            + "buys batch throughput with longer waits (docs/benchmarks.md). At most spec.serving.maxBatchedTokens. "
            + "Default " + DEFAULT_STEP_TOKENS + ". Passed to the worker as NURI_BATCH_STEP_TOKENS.")
    public Integer stepTokens;

    @JsonPropertyDescription("Where each shard keeps the Files and Batch API's state (NURI_BATCH_DIR): uploaded files, "
            + "batches and their output, from which a restarted shard resumes its batches. Each pod uses its own folder, "
            + "named after the pod, in the volume. Unset: the Batch API answers 503 (run-batch needs no storage).")
    public Storage storage;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(value = "[has(self.pvc), has(self.emptyDir)].filter(x, x).size() == 1",
            message = "spec.batch.storage must set exactly one of pvc, emptyDir")
    public static class Storage {
        @JsonPropertyDescription("An existing PersistentVolumeClaim: batches survive pod restarts and rescheduling. It must "
                + "be ReadWriteMany when the deployment has more than one shard pod.")
        public Pvc pvc;

        @JsonPropertyDescription("A scratch volume of the pod: batches survive a container restart, not the pod's deletion.")
        public EmptyDir emptyDir;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Pvc {
        @Required
        @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        @JsonPropertyDescription("Name of the PersistentVolumeClaim in the ModelDeployment's namespace.")
        public String claimName;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class EmptyDir {
        @Pattern("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
        @JsonPropertyDescription("Most the volume may hold, a quantity such as 10Gi (the pod is evicted past it). Default: no limit.")
        public String sizeLimit;
    }
}
