package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import dev.nuri.operator.shard.ShardNames;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;

/**
 * {@code <name>-shards}: headless, so each shard has a stable DNS name its peers dial. It publishes
 * not-ready addresses because a shard only becomes ready after it has connected to its peers.
 */
public class ShardsService extends CRUDKubernetesDependentResource<Service, ModelDeployment> {

    public ShardsService() {
        super(Service.class);
        OwnedObjects.watchOnlyManaged(this, Service.class);
    }

    @Override
    protected Service desired(ModelDeployment md, Context<ModelDeployment> context) {
        int peerPort = md.getSpec().serving().peerPort();
        return new ServiceBuilder()
                .withMetadata(OwnedObjects.metadata(md, ShardNames.shardsService(md)))
                .withNewSpec()
                .withClusterIP("None")
                .withPublishNotReadyAddresses(true)
                .withSelector(ShardLabels.deployment(md))
                .addNewPort().withName("peer").withPort(peerPort).withTargetPort(new IntOrString("peer")).endPort()
                .endSpec()
                .build();
    }
}
