package dev.nuri.operator.helm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nuri.operator.testing.KubernetesClusterExtension;
import dev.nuri.operator.testing.TestCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The chart's default, cluster-wide mode: the same rules in every namespace, leader election only in its own. */
@ExtendWith(KubernetesClusterExtension.class)
class ClusterWideInstallTest {

    static final String SYSTEM = "nuri-cw-system";
    static final String RELEASE = "nuri-cw";
    static final String FULLNAME = RELEASE + "-nuri-operator";
    static final String SA = "system:serviceaccount:" + SYSTEM + ":" + FULLNAME;
    static TestCluster cluster;

    @BeforeAll
    static void install(TestCluster c) {
        Chart.assumeHelm(c);
        cluster = c;
        c.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(SYSTEM)
                .addToLabels("pod-security.kubernetes.io/enforce", "restricted").endMetadata().build()).serverSideApply();
        TestCluster.Result install = c.helm("install", RELEASE, Chart.DIR.toString(), "-n", SYSTEM,
                "--set", Chart.KWOK_TOLERATION).assertSuccess();
        assertThat(install.stdout()).contains("It reconciles ModelDeployments in every namespace");
    }

    @AfterAll
    static void cleanUp() {
        if (cluster == null) return;
        cluster.helm("uninstall", RELEASE, "-n", SYSTEM, "--ignore-not-found");
        cluster.client().namespaces().withName(SYSTEM).delete();
    }

    @ParameterizedTest(name = "{0} {1} in {2}: {3}")
    @CsvSource(textBlock = """
            list,   modeldeployments.serving.nuri.dev,              *,              yes
            patch,  modeldeployments.serving.nuri.dev/status,       default,        yes
            create, statefulsets.apps,                              default,        yes
            watch,  pods,                                           kube-system,    yes
            patch,  leases.coordination.k8s.io,                     nuri-cw-system, yes
            patch,  leases.coordination.k8s.io,                     kube-system,    no
            get,    secrets,                                        *,              no
            create, pods,                                           default,        no
            delete, modeldeployments.serving.nuri.dev,              default,        no
            delete, nodes,                                          -,              no
            create, clusterroles.rbac.authorization.k8s.io,         -,              no
            create, clusterrolebindings.rbac.authorization.k8s.io,  -,              no
            """)
    void serviceAccountIsGrantedNoMoreThanItNeeds(String verb, String resource, String namespace, String expected) {
        assertThat(AccessReview.canI(cluster, SA, verb, resource, namespace)).isEqualTo(expected);
    }

    @Test
    void renderedManifestsInstallWithoutHelm() throws Exception {
        String yaml = cluster.helm("template", "nuri-plain", Chart.DIR.toString(), "-n", SYSTEM, "--kube-version",
                Chart.KUBE_VERSION, "--skip-tests").assertSuccess().stdout();
        Path manifests = Files.createTempFile("nuri-operator", ".yaml");
        try {
            Files.writeString(manifests, yaml);
            String applied = cluster.kubectl("apply", "--dry-run=server", "-n", SYSTEM, "-f", manifests.toString())
                    .assertSuccess().stdout();
            assertThat(applied).contains("deployment.apps/nuri-plain-nuri-operator created (server dry run)",
                    "clusterrole.rbac.authorization.k8s.io/nuri-plain-nuri-operator created (server dry run)");
        } finally {
            Files.delete(manifests);
        }
    }

    @Test
    void clusterRoleIsBoundToTheOperatorOnly() {
        var binding = cluster.client().rbac().clusterRoleBindings().withName(FULLNAME).get();
        assertThat(binding.getRoleRef().getName()).isEqualTo(FULLNAME);
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getNamespace()).isEqualTo(SYSTEM);
        });
    }
}
