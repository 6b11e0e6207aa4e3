package dev.nuri.operator.shard;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;

/** Names of the objects of one ModelDeployment (docs/install.md lists what a deployment creates). */
public final class ShardNames {
    private ShardNames() {}

    public static String group(ModelDeployment md, int group) {
        return md.getMetadata().getName() + "-g" + group;
    }

    /** Group index of a StatefulSet named {@code <name>-g<i>}, or -1 when the name is not one of ours. */
    public static int groupIndex(ModelDeployment md, String statefulSetName) {
        String prefix = md.getMetadata().getName() + "-g";
        if (!statefulSetName.startsWith(prefix)) {
            return -1;
        }
        try {
            return Integer.parseInt(statefulSetName.substring(prefix.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public static String shardsService(ModelDeployment md) {
        return md.getMetadata().getName() + "-shards";
    }

    public static String apiService(ModelDeployment md) {
        return md.getMetadata().getName();
    }

    public static String placement(ModelDeployment md) {
        return md.getMetadata().getName() + "-placement";
    }

    /** The Secret holding the key the shards of every group authenticate each other with. */
    public static String peerKey(ModelDeployment md) {
        return md.getMetadata().getName() + "-peer-key";
    }

    /** Key of the peer key inside that Secret. */
    public static final String PEER_KEY_ENTRY = "peer-key";

    /** Key of a revision's placement file in the placement ConfigMap (one per pod template revision in use). */
    public static String placementFile(String revision) {
        return "placement-" + revision + ".json";
    }

    /** Stable DNS name of shard s of group g, through the headless Service. */
    public static String shardHost(ModelDeployment md, int group, int shard) {
        return group(md, group) + "-" + shard + "." + shardsService(md) + "." + md.getMetadata().getNamespace() + ".svc";
    }
}
