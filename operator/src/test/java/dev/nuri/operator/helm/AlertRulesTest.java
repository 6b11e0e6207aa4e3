package dev.nuri.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.testing.TestCluster;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart's alert rules (files/prometheus-rules.yaml, wrapped in a PrometheusRule when
 * monitoring.prometheusRule.enabled) with Prometheus' own tool: they parse, and each alert fires
 * exactly when its unit test says (files/prometheus-rules.test.yaml: a group not serving, TTFT over
 * target for 10 minutes, KV cache near full, the autoscaler at max).
 */
class AlertRulesTest {

    static final Path FILES = Chart.DIR.resolve("files");
    static String promtool;

    @BeforeAll
    static void promtool() {
        String bin = TestCluster.run(List.of(TestCluster.REPO.resolve("hack/prometheus.sh").toString()), TestCluster.REPO)
                .assertSuccess().stdout().strip();
        promtool = Path.of(bin).resolve("promtool").toString();
    }

    @Test
    void rulesParse() {
        TestCluster.Result r = TestCluster.run(List.of(promtool, "check", "rules", "prometheus-rules.yaml"), FILES).assertSuccess();
        assertThat(r.stdout() + r.stderr()).contains("SUCCESS: 4 rules found");
    }

    @Test
    void alertsFireWhenTheirUnitTestsSay() {
        TestCluster.Result r = TestCluster.run(List.of(promtool, "test", "rules", "prometheus-rules.test.yaml"), FILES).assertSuccess();
        assertThat(r.stdout() + r.stderr()).contains("SUCCESS");
    }
}
