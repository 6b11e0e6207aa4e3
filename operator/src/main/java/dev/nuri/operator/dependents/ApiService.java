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
 * {@code <name>}: the OpenAI API. Endpoints hold only serving-ready shards (readiness probe) of groups that take
 * traffic (a group being removed is taken out first, see GroupDrain).
 */
public class ApiService extends CRUDKubernetesDependentResource<Service, ModelDeployment> {

    public ApiService() {
        super(Service.class);
        OwnedObjects.watchOnlyManaged(this, Service.class);
    }

    @Override
    protected Service desired(ModelDeployment md, Context<ModelDeployment> context) {
        return new ServiceBuilder()
                .withMetadata(OwnedObjects.metadata(md, ShardNames.apiService(md)))
                .withNewSpec()
                .withSelector(ShardLabels.takingTraffic(md))
                .addNewPort().withName("http").withPort(md.getSpec().serving().port())
                    .withTargetPort(new IntOrString("http")).endPort()
                .endSpec()
                .build();
    }

    public static String endpoint(ModelDeployment md) {
        return "http://" + ShardNames.apiService(md) + "." + md.getMetadata().getNamespace() + ".svc:"
                + md.getSpec().serving().port() + "/v1";
    }
}
