package dev.nuri.operator.dependents;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import dev.nuri.operator.shard.ShardNames;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Set;

/**
 * {@code <name>-peer-key}: the key with which the shards of a group prove to each other that they belong to this
 * deployment (every shard pod gets it as NURI_PEER_KEY), derived from the operator's master key ({@link PeerKeys}), so
 * that the operator can call the group's internal endpoints without reading the Secret back. Created once, immutable,
 * never rotated by a reconcile: anything that compared and updated it would cut the groups already running apart when
 * the master changed.
 *
 * <p>Create-only, and not a JOSDK dependent, on purpose: the operator never reads Secrets (it may only create them).
 * It creates the key for a deployment that has no group yet, and again whenever a shard pod cannot start because
 * the Secret is missing (deleted by hand, or a deployment from before the key existed); a create that finds it there
 * (409) changes nothing. A deployment in steady state costs no API call. Owned by the deployment, deleted with it by
 * garbage collection.
 */
public final class PeerKeySecret {
    private PeerKeySecret() {}

    public static void ensure(ModelDeployment md, Context<ModelDeployment> context, PeerKeys keys) {
        boolean noGroupYet = context.getSecondaryResources(StatefulSet.class).isEmpty();
        if (!noGroupYet && !aPodLacksIt(md, context.getSecondaryResources(Pod.class))) return;
        try {
            context.getClient().secrets().inNamespace(md.getMetadata().getNamespace()).resource(desired(md, keys.of(md))).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) throw e;
        }
    }

    /** Kubelet reports CreateContainerConfigError, naming the Secret, for a container whose env it cannot resolve. */
    private static boolean aPodLacksIt(ModelDeployment md, Set<Pod> pods) {
        String name = "\"" + ShardNames.peerKey(md) + "\"";
        return pods.stream().filter(p -> p.getStatus() != null && p.getStatus().getContainerStatuses() != null)
                .flatMap(p -> p.getStatus().getContainerStatuses().stream())
                .map(ContainerStatus::getState)
                .anyMatch(s -> s != null && s.getWaiting() != null && "CreateContainerConfigError".equals(s.getWaiting().getReason())
                        && s.getWaiting().getMessage() != null && s.getWaiting().getMessage().contains(name));
    }

    /** The Secret as the operator creates it, holding {@code key}. */
    public static Secret desired(ModelDeployment md, String key) {
        return new SecretBuilder()
                .withMetadata(OwnedObjects.metadata(md, ShardNames.peerKey(md)))
                .editMetadata().withOwnerReferences(new OwnerReferenceBuilder()
                        .withApiVersion(md.getApiVersion()).withKind(md.getKind()).withName(md.getMetadata().getName())
                        .withUid(md.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true).build())
                .endMetadata()
                .withType("Opaque")
                .withImmutable(true)
                .addToStringData(ShardNames.PEER_KEY_ENTRY, key)
                .build();
    }
}
