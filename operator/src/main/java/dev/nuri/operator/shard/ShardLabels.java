package dev.nuri.operator.shard;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import java.util.LinkedHashMap;
import java.util.Map;

/** Labels on everything the operator owns; the selectors and informers depend on them. */
public final class ShardLabels {
    public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    public static final String MANAGED_BY_VALUE = "nuri-operator";
    public static final String NAME = "app.kubernetes.io/name";
    public static final String NAME_VALUE = "nuri-worker";
    public static final String INSTANCE = "app.kubernetes.io/instance";
    public static final String DEPLOYMENT = "serving.nuri.dev/deployment";
    public static final String GROUP = "serving.nuri.dev/group";
    public static final String REVISION = "serving.nuri.dev/revision";
    /**
     * The client Service selects pods with {@code on}; a group being removed is set to {@code off} first, so that it
     * takes no new request while the ones in flight finish (GroupDrain).
     */
    public static final String TRAFFIC = "serving.nuri.dev/traffic";
    public static final String TRAFFIC_ON = "on";
    public static final String TRAFFIC_OFF = "off";
    /** Set by the StatefulSet controller (Kubernetes 1.28+) on every pod: the shard index. */
    public static final String POD_INDEX = "apps.kubernetes.io/pod-index";

    /** Label selector of everything the operator manages, for informers. */
    public static final String MANAGED_SELECTOR = MANAGED_BY + "=" + MANAGED_BY_VALUE;

    private ShardLabels() {}

    /** Labels of every object of one deployment; also the selector of all its shard pods. */
    public static Map<String, String> deployment(ModelDeployment md) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(NAME, NAME_VALUE);
        labels.put(INSTANCE, md.getMetadata().getName());
        labels.put(MANAGED_BY, MANAGED_BY_VALUE);
        labels.put(DEPLOYMENT, md.getMetadata().getName());
        return labels;
    }

    /** Selector of the client Service: the deployment's pods that take new requests. */
    public static Map<String, String> takingTraffic(ModelDeployment md) {
        Map<String, String> labels = deployment(md);
        labels.put(TRAFFIC, TRAFFIC_ON);
        return labels;
    }

    /** Selector of the pods of one group. */
    public static Map<String, String> group(ModelDeployment md, int group) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(DEPLOYMENT, md.getMetadata().getName());
        labels.put(GROUP, Integer.toString(group));
        return labels;
    }

    /** The scale subresource's selector string for all shard pods of a deployment. */
    public static String selectorString(ModelDeployment md) {
        return DEPLOYMENT + "=" + md.getMetadata().getName();
    }
}
