package dev.nuri.worker;

import dev.nuri.contract.WorkerJvm;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The worker image starts its JVM with {@link WorkerJvm#OPTIONS} in force, also when the operator sets
 * {@code JAVA_TOOL_OPTIONS} in a shard pod: options on the image's command line override that variable, so the
 * command line must carry none of them. Checked on a real JVM started with the image's ENTRYPOINT.
 */
class WorkerImageJvmTest {
    static final Path CONTAINERFILE = Path.of("Containerfile");

    @Test
    void theImageSetsTheWorkerJvmOptionsAndItsCommandLineOverridesNoneOfThem() throws Exception {
        String file = Files.readString(CONTAINERFILE);
        Matcher env = Pattern.compile("JAVA_TOOL_OPTIONS=\"([^\"]*)\"").matcher(file);
        assertThat(env.find()).as("the image sets JAVA_TOOL_OPTIONS").isTrue();
        assertThat(env.group(1)).isEqualTo(WorkerJvm.toolOptions());

        // a pod's JAVA_TOOL_OPTIONS (the operator's: WorkerJvm.toolOptions()) against the image's ENTRYPOINT
        List<String> command = new ArrayList<>(entrypoint(file));
        command.set(0, Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.subList(command.indexOf("-jar"), command.size()).clear();
        command.addAll(List.of("-XX:+PrintFlagsFinal", "-version"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("JAVA_TOOL_OPTIONS", WorkerJvm.toolOptions());
        Process p = pb.start();
        String flags = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(flags).isZero();
        assertThat(flag(flags, "MaxRAMPercentage")).isEqualTo("50.000000");
        assertThat(flag(flags, "UseG1GC")).isEqualTo("true");
        assertThat(flag(flags, "GCTimeRatio")).isEqualTo("4");
        assertThat(flag(flags, "MaxHeapFreeRatio")).isEqualTo("30");
        assertThat(flag(flags, "ExitOnOutOfMemoryError")).isEqualTo("true");
    }

    /** The exec-form ENTRYPOINT's arguments. */
    static List<String> entrypoint(String containerfile) {
        Matcher m = Pattern.compile("ENTRYPOINT \\[(.*?)]", Pattern.DOTALL).matcher(containerfile);
        assertThat(m.find()).as("an exec-form ENTRYPOINT").isTrue();
        List<String> args = new ArrayList<>();
        Matcher arg = Pattern.compile("\"([^\"]*)\"").matcher(m.group(1));
        while (arg.find()) args.add(arg.group(1));
        return args;
    }

    static String flag(String printFlagsFinal, String name) {
        Matcher m = Pattern.compile("\\s" + name + "\\s+= (\\S+)").matcher(printFlagsFinal);
        assertThat(m.find()).as("%s in -XX:+PrintFlagsFinal", name).isTrue();
        return m.group(1);
    }
}
