package dev.nuri.contract;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The settings table of runtime-image/PLACEMENT.md is generated from {@link ShardSetting}. Regenerate with
 * hack/update-generated (or: ./mvnw -pl shard-contract test -Dtest=SettingsTableTest -Dnuri.update-docs=true).
 */
class SettingsTableTest {
    static final Path DOC = Path.of("..", "runtime-image", "PLACEMENT.md");
    static final String BEGIN = "<!-- settings table: generated from dev.nuri.contract.ShardSetting by hack/update-generated -->\n";
    static final String END = "<!-- end of settings table -->";

    @Test
    void placementDocListsEverySettingAsDefined() throws IOException {
        String doc = Files.readString(DOC);
        int begin = doc.indexOf(BEGIN);
        int end = doc.indexOf(END);
        assertThat(begin).as("PLACEMENT.md has the table markers").isNotNegative();
        String expected = doc.substring(0, begin + BEGIN.length()) + ShardSetting.markdownTable() + doc.substring(end);
        if (Boolean.getBoolean("nuri.update-docs")) {
            Files.writeString(DOC, expected);
            doc = expected;
        }
        assertThat(doc).as("runtime-image/PLACEMENT.md is stale: run hack/update-generated").isEqualTo(expected);
    }
}
