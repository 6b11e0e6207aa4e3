package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.config.informer.InformerConfiguration;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependentResourceConfigBuilder;

/** What every object the operator owns has in common. */
final class OwnedObjects {
    private OwnedObjects() {}

    /** Name, namespace and the deployment's labels; JOSDK adds the owner reference. */
    static ObjectMeta metadata(ModelDeployment md, String name) {
        return new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(md.getMetadata().getNamespace())
                .withLabels(ShardLabels.deployment(md))
                .build();
    }

    /** Informers of dependents only cache objects the operator manages, not every object of the kind. */
    static <R extends HasMetadata> void watchOnlyManaged(KubernetesDependentResource<R, ModelDeployment> dependent,
                                                         Class<R> type) {
        dependent.configureWith(new KubernetesDependentResourceConfigBuilder<R>()
                .withKubernetesDependentInformerConfig(InformerConfiguration.builder(type)
                        .withLabelSelector(ShardLabels.MANAGED_SELECTOR).build())
                .build());
    }
}
