package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardLabels;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import java.util.Map;

/**
 * Only the deployment's own shards may reach the peer port (expert dispatch carries hidden states);
 * the API port stays open to clients.
 */
public class PeerNetworkPolicy extends CRUDKubernetesDependentResource<NetworkPolicy, ModelDeployment> {

    public PeerNetworkPolicy() {
        super(NetworkPolicy.class);
        OwnedObjects.watchOnlyManaged(this, NetworkPolicy.class);
    }

    @Override
    protected NetworkPolicy desired(ModelDeployment md, Context<ModelDeployment> context) {
        Map<String, String> shards = Map.of(ShardLabels.DEPLOYMENT, md.getMetadata().getName());
        return new NetworkPolicyBuilder()
                .withMetadata(OwnedObjects.metadata(md, md.getMetadata().getName() + "-peers"))
                .withNewSpec()
                .withNewPodSelector().withMatchLabels(shards).endPodSelector()
                .withPolicyTypes("Ingress")
                .addNewIngress()
                    .addNewFrom().withNewPodSelector().withMatchLabels(shards).endPodSelector().endFrom()
                    .addNewPort().withProtocol("TCP").withPort(new IntOrString(md.getSpec().serving().peerPort())).endPort()
                .endIngress()
                .addNewIngress()
                    .addNewPort().withProtocol("TCP").withPort(new IntOrString(md.getSpec().serving().port())).endPort()
                .endIngress()
                .endSpec()
                .build();
    }
}
