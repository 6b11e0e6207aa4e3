import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The test report hack/test prints after the build: every test of this run with its result and the
 * cluster lane it ran on (target/test-report.tsv), and a failure for any skipped test or class that
 * .ci/declared-skips.tsv does not declare, with its reason, for that lane. It reads JUnit's own
 * event reports (target/junit-platform/ and, for failsafe, target/junit-platform-it/; see the parent pom), which also list classes skipped as a
 * whole, and each module's target/cluster-lanes.tsv (written by KubernetesClusterExtension).
 *
 * <p>Run: {@code java hack/TestReport.java [--since <epoch millis>]}; reports older than --since
 * (left from earlier runs) are ignored.
 */
public class TestReport {

    record Case(String className, String name, String result, String message, String lane) {}

    record Declared(String test, List<String> lanes, String reason) {
        boolean covers(Case c) {
            String simple = c.className().substring(c.className().lastIndexOf('.') + 1);
            String[] parts = test.split("#", 2);
            boolean classMatches = parts[0].equals(c.className()) || parts[0].equals(simple);
            boolean methodMatches = parts.length == 1 || c.name().startsWith(parts[1] + "(");
            return classMatches && methodMatches && (lanes.contains("*") || lanes.contains(c.lane()))
                    && c.message() != null && c.message().contains(reason);
        }
    }

    public static void main(String[] args) throws Exception {
        Path repo = Path.of(".").toAbsolutePath().normalize();
        long since = args.length == 2 && args[0].equals("--since") ? Long.parseLong(args[1]) : 0;

        Map<String, String> lanes = new TreeMap<>();
        for (Path file : find(repo, "cluster-lanes.tsv", since)) {
            for (String line : Files.readAllLines(file)) {
                String[] f = line.split("\t");
                if (f.length >= 2) lanes.put(f[0], f[1]);
            }
        }
        List<Case> cases = new ArrayList<>();
        for (Path file : find(repo, null, since)) {
            cases.addAll(read(file, lanes));
        }
        if (cases.isEmpty()) {
            System.err.println("[test-report] no JUnit event reports (*/target/junit-platform/*.xml) of this run found");
            System.exit(1);
        }

        List<Declared> declared = new ArrayList<>();
        for (String line : Files.readAllLines(repo.resolve(".ci/declared-skips.tsv"))) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t+");
            if (f.length != 3) throw new IllegalArgumentException(".ci/declared-skips.tsv: expected 3 tab-separated fields: " + line);
            declared.add(new Declared(f[0], List.of(f[1].split(",")), f[2]));
        }

        Files.createDirectories(repo.resolve("target"));
        StringBuilder tsv = new StringBuilder("lane\tresult\tclass\ttest\tmessage\n");
        Map<String, Map<String, Integer>> counts = new LinkedHashMap<>();
        List<String> undeclared = new ArrayList<>();
        for (Case c : cases) {
            tsv.append(c.lane()).append('\t').append(c.result()).append('\t').append(c.className()).append('\t')
                    .append(c.name()).append('\t').append(c.message() == null ? "" : c.message().replaceAll("\\s+", " "))
                    .append('\n');
            counts.computeIfAbsent(c.lane(), l -> new TreeMap<>()).merge(c.result(), 1, Integer::sum);
            if (c.result().equals("skipped")) {
                boolean ok = declared.stream().anyMatch(d -> d.covers(c));
                System.out.println("[test-report] skipped on lane " + c.lane() + ": " + c.className() + " " + c.name()
                        + ": " + c.message() + (ok ? " (declared)" : " (NOT DECLARED)"));
                if (!ok) undeclared.add(c.className() + " " + c.name() + " on lane " + c.lane() + ": " + c.message());
            }
        }
        Files.writeString(repo.resolve("target/test-report.tsv"), tsv);
        counts.forEach((lane, byResult) -> System.out.println("[test-report] lane " + lane + ": " + byResult));
        System.out.println("[test-report] " + cases.size() + " tests; per test: target/test-report.tsv");
        if (!undeclared.isEmpty()) {
            System.err.println("[test-report] " + undeclared.size() + " skipped test(s) not declared in .ci/declared-skips.tsv "
                    + "for their lane; run them, or declare the skip with its reason:");
            undeclared.forEach(u -> System.err.println("  " + u));
            System.exit(1);
        }
    }

    /**
     * The tests of one JUnit Open Test Reporting event file, and the classes skipped as a whole (a
     * failed assumption in @BeforeAll; surefire's own XML shows such a class as zero tests).
     */
    static List<Case> read(Path file, Map<String, String> lanes) throws Exception {
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
        Map<String, Element> started = new LinkedHashMap<>();
        Map<String, Element> results = new LinkedHashMap<>();
        var all = doc.getDocumentElement().getChildNodes();
        for (int i = 0; i < all.getLength(); i++) {
            if (!(all.item(i) instanceof Element e)) continue;
            switch (e.getTagName()) {
                case "e:started" -> started.put(e.getAttribute("id"), e);
                case "e:finished", "e:reported" -> {
                    Element result = first(e, "result");
                    if (result != null) results.put(e.getAttribute("id"), result);
                }
                default -> { }
            }
        }
        List<Case> cases = new ArrayList<>();
        started.forEach((id, e) -> {
            Element result = results.get(id);
            String status = result == null ? "UNKNOWN" : result.getAttribute("status");
            boolean test = "TEST".equals(text(first(e, "junit:type")));
            Element method = first(e, "java:methodSource");
            Element clazz = first(e, "java:classSource");
            // a class counts on its own only when it did not run its tests: skipped, or failed before them
            if (!test && (clazz == null || status.equals("SUCCESSFUL"))) return;
            String className = (test ? method : clazz) == null ? e.getAttribute("name")
                    : (test ? method : clazz).getAttribute("className");
            String name = test ? e.getAttribute("name") : "(whole class)";
            String outcome = switch (status) {
                case "SUCCESSFUL" -> "passed";
                case "ABORTED", "SKIPPED" -> "skipped";
                case "FAILED", "ERRORED" -> "failed";
                default -> status.toLowerCase(java.util.Locale.ROOT);
            };
            cases.add(new Case(className, name, outcome, reason(result), lanes.getOrDefault(className, "none")));
        });
        return cases;
    }

    /** Why a test was skipped or failed: the reason, or the first line of the exception without its type. */
    static String reason(Element result) {
        if (result == null) return null;
        String reason = text(first(result, "reason"));
        if (reason != null) return reason;
        String thrown = text(first(result, "java:throwable"));
        if (thrown == null) return null;
        String line = thrown.strip().lines().findFirst().orElse("");
        return line.replaceFirst("^[\\w.$]+(Exception|Error): ", "").replaceFirst("^Assumption failed: ", "");
    }

    static Element first(Element parent, String tag) {
        NodeList n = parent.getElementsByTagName(tag);
        return n.getLength() == 0 ? null : (Element) n.item(0);
    }

    static String text(Element e) {
        return e == null ? null : e.getTextContent();
    }

    /** JUnit's event reports (or, with {@code name}, that file) under each module's target/. */
    static List<Path> find(Path repo, String name, long since) throws IOException {
        try (Stream<Path> modules = Files.list(repo)) {
            List<Path> found = new ArrayList<>();
            for (Path module : modules.filter(m -> Files.isDirectory(m.resolve("target"))).sorted().toList()) {
                // surefire's and failsafe's reports live in folders of their own (parent pom)
                List<Path> dirs = name == null
                        ? List.of(module.resolve("target/junit-platform"), module.resolve("target/junit-platform-it"))
                        : List.of(module.resolve("target"));
                for (Path dir : dirs) {
                    if (!Files.isDirectory(dir)) continue;
                    try (Stream<Path> files = Files.list(dir)) {
                        files.filter(f -> name == null ? f.getFileName().toString().endsWith(".xml")
                                        : f.getFileName().toString().equals(name))
                                .filter(f -> f.toFile().lastModified() >= since)
                                .sorted().forEach(found::add);
                    }
                }
            }
            return found;
        }
    }
}
