package dev.nuri.operator.observability;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Groups desired and ready per ModelDeployment, as gauges. */
public final class DeploymentMetrics {

    /** @param max spec.autoscaling.maxReplicas when the built-in autoscaler is on, else NaN */
    private record Groups(int desired, int ready, double max) {}

    private final MeterRegistry registry;
    private final Map<ResourceID, Groups> groups = new ConcurrentHashMap<>();

    public DeploymentMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Records one deployment and forgets deployments that no longer exist. */
    public void record(ModelDeployment md, int desired, int ready, Collection<ResourceID> existing) {
        ResourceID id = ResourceID.fromResource(md);
        double max = md.getSpec().autoscaling().enabled() && md.getSpec().autoscaling().maxReplicas != null
                ? md.getSpec().autoscaling().maxReplicas : Double.NaN;
        if (groups.put(id, new Groups(desired, ready, max)) == null) {
            Tags tags = Tags.of("namespace", md.getMetadata().getNamespace(), "deployment", md.getMetadata().getName());
            Gauge.builder("nuri_operator_groups_desired", groups, m -> m.containsKey(id) ? m.get(id).desired() : Double.NaN)
                    .tags(tags).description("Expert-parallel groups the ModelDeployment asks for").register(registry);
            Gauge.builder("nuri_operator_groups_ready", groups, m -> m.containsKey(id) ? m.get(id).ready() : Double.NaN)
                    .tags(tags).description("Expert-parallel groups whose every shard is serving-ready").register(registry);
            Gauge.builder("nuri_operator_autoscaling_max_groups", groups, m -> m.containsKey(id) ? m.get(id).max() : Double.NaN)
                    .tags(tags).description("spec.autoscaling.maxReplicas while the built-in autoscaler is on (for the at-max alert)")
                    .register(registry);
        }
        groups.keySet().removeIf(k -> !existing.contains(k) && !k.equals(id));
    }
}
