package dev.nuri.operator.status;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.net.HttpURLConnection;
import java.util.Optional;

/**
 * Writes a status only over the version of the deployment it was computed from. A status is computed from the
 * informer caches; when another writer (a second operator run by mistake without leader election, a person) changed
 * the deployment since the cache saw it, the computed status is stale: written unconditionally it would overwrite a
 * newer one (a group seen ready again not ready, a condition's lastTransitionTime moved), and the other writer would
 * write its own back. With the resourceVersion as a precondition the API server refuses such a write (409) and
 * nothing is written.
 */
public final class StatusPatch {

    private StatusPatch() {}

    /**
     * Server-side applies {@code status} under {@code fieldManager} if the deployment is still at {@code seen}'s
     * resourceVersion.
     *
     * @return the deployment as written, or empty when it changed since {@code seen} (nothing written)
     */
    public static Optional<ModelDeployment> apply(KubernetesClient client, String fieldManager, ModelDeployment seen,
                                                  ModelDeploymentStatus status) {
        ModelDeployment patch = new ModelDeployment();
        patch.getMetadata().setName(seen.getMetadata().getName());
        patch.getMetadata().setNamespace(seen.getMetadata().getNamespace());
        patch.getMetadata().setResourceVersion(seen.getMetadata().getResourceVersion());
        patch.setStatus(status);
        try {
            return Optional.of(client.resource(patch).subresource("status").patch(new PatchContext.Builder()
                    .withPatchType(PatchType.SERVER_SIDE_APPLY).withFieldManager(fieldManager).withForce(true).build()));
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) return Optional.empty();
            throw e;
        }
    }
}
