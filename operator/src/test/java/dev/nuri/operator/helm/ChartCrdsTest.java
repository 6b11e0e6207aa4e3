package dev.nuri.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.testing.TestCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The chart ships the generated CRDs byte for byte: Helm installs them from its crds/ folder. */
class ChartCrdsTest {

    static final Path CRDS = TestCluster.REPO.resolve("crds");
    static final Path CHART_CRDS = TestCluster.REPO.resolve("helm/nuri-operator/crds");
    static final String FIX = "copy them again: cp crds/*.yml helm/nuri-operator/crds/";

    @Test
    void chartHoldsTheSameCrdFilesAsTheTopLevelFolder() throws IOException {
        assertThat(names(CHART_CRDS)).as("CRD files in the chart; " + FIX).isEqualTo(names(CRDS));
    }

    @Test
    void eachChartCrdIsIdenticalToTheGeneratedOne() throws IOException {
        for (String name : names(CRDS)) {
            assertThat(Files.readString(CHART_CRDS.resolve(name)))
                    .as("helm/nuri-operator/crds/%s differs from crds/%s; %s", name, name, FIX)
                    .isEqualTo(Files.readString(CRDS.resolve(name)));
        }
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml") || n.endsWith(".yaml"))
                    .sorted().toList();
        }
    }
}
