package dev.nuri.operator.autoscaling;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Map;

/** Where the autoscaler reads the shards' metrics. */
public interface ShardMetricsSource {

    /**
     * The current reading of each of these shard pods, by pod name; a pod left out could not be read
     * (not answering, no such series), and its group counts as not measured.
     */
    Map<String, ShardReading> read(ModelDeployment md, List<Pod> pods);

    /** Says where the readings come from, for status.autoscaling.source. */
    String describe(ModelDeployment md);
}
