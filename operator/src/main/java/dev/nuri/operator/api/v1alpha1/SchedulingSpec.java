package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class SchedulingSpec {

    public static final String DEFAULT_GROUP_TOPOLOGY_KEY = "topology.kubernetes.io/zone";
    public static final String DEFAULT_GROUP_SPREAD_KEY = "kubernetes.io/hostname";

    @JsonPropertyDescription("Extra node labels every shard requires, merged with the accelerator profile's labels.")
    public Map<String, String> nodeSelector;

    @JsonPropertyDescription("Extra tolerations, added to the accelerator profile's tolerations.")
    public List<Toleration> tolerations;

    @Default(DEFAULT_GROUP_TOPOLOGY_KEY)
    @JsonPropertyDescription("Node label whose domains a group is packed into: all shards of one group land in the "
            + "same domain (e.g. a rack or zone with a fast interconnect). Empty disables packing.")
    public String groupTopologyKey;

    @Default(DEFAULT_GROUP_SPREAD_KEY)
    @JsonPropertyDescription("Node label across whose domains different groups are spread (best effort), so one failure "
            + "takes out as few groups as possible. Empty disables spreading.")
    public String groupSpreadKey;

    @JsonPropertyDescription("PriorityClass of the shard pods.")
    public String priorityClassName;

    /** Node label a group is packed into; blank disables packing. */
    public String groupTopologyKey() {
        return groupTopologyKey != null ? groupTopologyKey : DEFAULT_GROUP_TOPOLOGY_KEY;
    }

    /** Node label groups are spread across; blank disables spreading. */
    public String groupSpreadKey() {
        return groupSpreadKey != null ? groupSpreadKey : DEFAULT_GROUP_SPREAD_KEY;
    }
}
