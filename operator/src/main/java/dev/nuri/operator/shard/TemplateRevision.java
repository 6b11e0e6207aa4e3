package dev.nuri.operator.shard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.nuri.operator.api.v1alpha1.ModelDeploymentSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The revision of a deployment's pod template: a hash of every spec field that shapes a shard pod.
 * replicas, rollout, autoscaling and experts.rebalance are left out: changing them must not restart a single pod.
 */
public final class TemplateRevision {
    private static final ObjectMapper JSON = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    private TemplateRevision() {}

    public static String of(ModelDeploymentSpec spec, String defaultImage) {
        Map<String, Object> shaping = new LinkedHashMap<>();
        shaping.put("model", spec.model);
        // spec.experts.rebalance only tunes when the operator moves experts live: it restarts nothing
        shaping.put("experts", spec.experts == null ? null : spec.experts.withoutRebalance());
        shaping.put("accelerator", spec.accelerator);
        shaping.put("resources", spec.resources);
        shaping.put("scheduling", spec.scheduling);
        shaping.put("serving", spec.serving);
        shaping.put("image", spec.image != null ? spec.image : defaultImage);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(JSON.writeValueAsString(shaping)
                    .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 5);
        } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot hash the pod template", e);
        }
    }
}
