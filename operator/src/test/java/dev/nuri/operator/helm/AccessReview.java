package dev.nuri.operator.helm;

import dev.nuri.operator.testing.TestCluster;
import java.util.ArrayList;
import java.util.List;

/** {@code kubectl auth can-i} on behalf of another user, as the API server's authorizer answers it. */
final class AccessReview {
    private AccessReview() {}

    /**
     * "yes" or "no". {@code resource} may name a subresource ({@code statefulsets.apps/scale});
     * {@code namespace} "-" means cluster-scoped and "*" all namespaces.
     */
    static String canI(TestCluster cluster, String user, String verb, String resource, String namespace) {
        List<String> args = new ArrayList<>(List.of("auth", "can-i", verb, "--as=" + user));
        int slash = resource.indexOf('/');
        if (slash < 0) {
            args.add(resource);
        } else {
            args.add(resource.substring(0, slash));
            args.add("--subresource=" + resource.substring(slash + 1));
        }
        switch (namespace) {
            case "-" -> { }
            case "*" -> args.add("--all-namespaces");
            default -> args.add("--namespace=" + namespace);
        }
        return cluster.kubectl(args.toArray(String[]::new)).stdout().strip();
    }
}
