package dev.nuri.operator.helm;

import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The nuri-operator chart as the tests use it: rendered with the cluster's helm at the cluster's version. */
final class Chart {
    private Chart() {}

    static final Path DIR = TestCluster.REPO.resolve("helm/nuri-operator");
    static final String KUBE_VERSION = "1.36.3";
    /** KWOK's fake nodes are tainted; the operator pod needs this to be scheduled on them. */
    static final String KWOK_TOLERATION = "tolerations[0].key=kwok.x-k8s.io/node,tolerations[0].operator=Exists,"
            + "tolerations[0].effect=NoSchedule";

    /** Skips the calling test class, with the reason, where helm cannot run (an external cluster without NURI_TEST_BIN). */
    static void assumeHelm(TestCluster cluster) {
        Assumptions.assumeTrue(cluster.hasTool("helm"),
                "needs helm: hack/build-tools.sh builds it; NURI_TEST_BIN names its folder for an external cluster");
    }

    /** {@code helm template} of the chart as release {@code release} in {@code namespace}, with {@code --set} values. */
    static TestCluster.Result template(TestCluster cluster, String release, String namespace, String... sets) {
        List<String> args = new ArrayList<>(List.of("template", release, DIR.toString(), "--namespace", namespace,
                "--kube-version", KUBE_VERSION));
        for (String set : sets) {
            args.add("--set");
            args.add(set);
        }
        return cluster.helm(args.toArray(String[]::new));
    }

    static List<HasMetadata> render(TestCluster cluster, String release, String namespace, String... sets) {
        String yaml = template(cluster, release, namespace, sets).assertSuccess().stdout();
        return cluster.client().load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items();
    }

    static <T extends HasMetadata> List<T> ofKind(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type) {
        List<T> found = ofKind(objects, type);
        if (found.size() != 1) {
            throw new AssertionError("expected one " + type.getSimpleName() + ", rendered " + found.size());
        }
        return found.getFirst();
    }
}
