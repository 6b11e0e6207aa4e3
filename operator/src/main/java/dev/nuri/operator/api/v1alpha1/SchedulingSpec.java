package dev.nuri.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class SchedulingSpec {

    @JsonPropertyDescription("Extra node labels every shard requires, merged with the accelerator profile's labels.")
    public Map<String, String> nodeSelector;

    @JsonPropertyDescription("Extra tolerations, added to the accelerator profile's tolerations.")
    public List<Toleration> tolerations;

    @Default("topology.kubernetes.io/zone")
    @JsonPropertyDescription("Node label whose domains a group is packed into: all shards of one group land in the "
            + "same domain (e.g. a rack or zone with a fast interconnect). Empty disables packing.")
    public String groupTopologyKey;

    @Default("kubernetes.io/hostname")
    @JsonPropertyDescription("Node label across whose domains different groups are spread (best effort), so one failure "
            + "takes out as few groups as possible. Empty disables spreading.")
    public String groupSpreadKey;

    @JsonPropertyDescription("PriorityClass of the shard pods.")
    public String priorityClassName;
}
