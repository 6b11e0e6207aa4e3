package dev.nuri.operator.autoscaling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the same series from a Prometheus that scrapes the shard pods (spec.autoscaling.prometheus):
 * one instant query per evaluation for the deployment's pods, by their {@code namespace} and
 * {@code pod} labels. The histograms come back cumulative, so the window arithmetic is the same as
 * for pods read directly.
 */
public final class PrometheusMetricsSource implements ShardMetricsSource {

    private static final Logger LOG = LoggerFactory.getLogger(PrometheusMetricsSource.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SERIES = String.join("|", ShardReading.RUNNING, ShardReading.WAITING, ShardReading.KV_CACHE_USAGE,
            ShardReading.TIME_TO_FIRST_TOKEN + "_bucket", ShardReading.INTER_TOKEN_LATENCY + "_bucket");

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(PodMetricsScraper.TIMEOUT).build();

    /** The PromQL selector of these pods' series. */
    static String query(String namespace, List<String> podNames) {
        // pod names are DNS names: only the dot is special in a regular expression (and \\ in a PromQL string)
        String pods = podNames.stream().map(p -> p.replace(".", "\\\\.")).collect(Collectors.joining("|"));
        return "{__name__=~\"" + SERIES + "\",namespace=\"" + namespace + "\",pod=~\"" + pods + "\"}";
    }

    @Override
    public Map<String, ShardReading> read(ModelDeployment md, List<Pod> pods) {
        if (pods.isEmpty()) return Map.of();
        String base = md.getSpec().autoscaling().prometheus.url.replaceAll("/+$", "");
        String q = query(md.getMetadata().getNamespace(), pods.stream().map(p -> p.getMetadata().getName()).toList());
        URI uri = URI.create(base + "/api/v1/query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8));
        JsonNode body;
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(PodMetricsScraper.TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            body = JSON.readTree(r.body());
            if (r.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
                LOG.warn("Prometheus at {} answered {}: {}", base, r.statusCode(), body.path("error").asText(r.body()));
                return Map.of();
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            LOG.warn("Prometheus at {} not read: {}", base, e.toString());
            return Map.of();
        }
        Map<String, List<PrometheusText.Sample>> byPod = new HashMap<>();
        for (JsonNode series : body.path("data").path("result")) {
            Map<String, String> labels = new LinkedHashMap<>();
            series.path("metric").fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            String name = labels.remove("__name__");
            double value = PrometheusText.parseValue(series.path("value").path(1).asText());
            byPod.computeIfAbsent(labels.get("pod"), k -> new ArrayList<>()).add(new PrometheusText.Sample(name, labels, value));
        }
        Map<String, ShardReading> out = new HashMap<>();
        byPod.forEach((pod, samples) -> {
            try {
                out.put(pod, ShardReading.from(samples));
            } catch (IllegalArgumentException e) {
                LOG.debug("Prometheus has no full reading of {}: {}", pod, e.getMessage());
            }
        });
        return out;
    }

    @Override
    public String describe(ModelDeployment md) {
        return "prometheus: " + md.getSpec().autoscaling().prometheus.url;
    }
}
