package dev.nuri.operator.autoscaling;

import dev.nuri.operator.api.v1alpha1.ModelDeployment;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads each shard pod's /metrics on its API port, all pods at once, each within {@link #TIMEOUT}.
 * Needs no Prometheus; the NetworkPolicy leaves the API port (which serves /metrics) open.
 */
public final class PodMetricsScraper implements ShardMetricsSource {

    private static final Logger LOG = LoggerFactory.getLogger(PodMetricsScraper.class);
    static final Duration TIMEOUT = Duration.ofSeconds(2);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    private final BiFunction<ModelDeployment, Pod, Optional<URI>> endpoint;

    /** Reads http://podIP:spec.serving.port/metrics. */
    public PodMetricsScraper() {
        this((md, pod) -> Optional.ofNullable(pod.getStatus() == null ? null : pod.getStatus().getPodIP())
                .filter(ip -> !ip.isBlank())
                .map(ip -> URI.create("http://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + md.getSpec().serving().port()
                        + "/metrics")));
    }

    /** @param endpoint where a pod's metrics are (tests point KWOK pods, which run nothing, at worker processes) */
    public PodMetricsScraper(BiFunction<ModelDeployment, Pod, Optional<URI>> endpoint) {
        this.endpoint = endpoint;
    }

    @Override
    public Map<String, ShardReading> read(ModelDeployment md, List<Pod> pods) {
        Map<String, CompletableFuture<Optional<ShardReading>>> pending = new HashMap<>();
        for (Pod pod : pods) {
            String name = pod.getMetadata().getName();
            pending.put(name, endpoint.apply(md, pod).map(uri -> http.sendAsync(HttpRequest.newBuilder(uri).timeout(TIMEOUT).GET().build(),
                            HttpResponse.BodyHandlers.ofString())
                    .thenApply(r -> parse(name, uri, r))
                    .exceptionally(e -> {
                        LOG.debug("metrics of {} at {} not read: {}", name, uri, e.toString());
                        return Optional.empty();
                    })).orElse(CompletableFuture.completedFuture(Optional.empty())));
        }
        Map<String, ShardReading> out = new HashMap<>();
        pending.forEach((name, f) -> f.join().ifPresent(r -> out.put(name, r)));
        return out;
    }

    private static Optional<ShardReading> parse(String pod, URI uri, HttpResponse<String> response) {
        if (response.statusCode() != 200) {
            LOG.debug("metrics of {} at {}: HTTP {}", pod, uri, response.statusCode());
            return Optional.empty();
        }
        try {
            return Optional.of(ShardReading.from(PrometheusText.parse(response.body())));
        } catch (IllegalArgumentException e) {
            LOG.warn("metrics of {} at {} are not a Nuri worker's: {}", pod, uri, e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public String describe(ModelDeployment md) {
        return "pods: GET /metrics on port " + md.getSpec().serving().port() + " of each shard";
    }
}
