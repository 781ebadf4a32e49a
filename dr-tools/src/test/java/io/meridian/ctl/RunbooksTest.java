package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The shape of runbooks/, without running anything: every runbook has the six sections and is
 * listed in the README, each has a drill test named after it, and every variable its drilled blocks
 * use is in its table of what the operator fills in.
 */
class RunbooksTest {
  private static final Path DIR = ReadmeWalkthroughTest.repository().resolve("runbooks");
  private static final Pattern VARIABLE = Pattern.compile("\\$([A-Z][A-Z_]+)");

  @Test
  void everyRunbookHasItsSectionsItsDrillAndItsVariablesDocumented() throws IOException {
    String readme = Files.readString(DIR.resolve("README.md"), StandardCharsets.UTF_8);
    List<Path> runbooks;
    try (Stream<Path> files = Files.list(DIR)) {
      runbooks =
          files.filter(p -> !p.getFileName().toString().equals("README.md")).sorted().toList();
    }
    assertThat(runbooks).hasSize(10);
    for (Path runbook : runbooks) {
      String name = runbook.getFileName().toString();
      String text = Files.readString(runbook, StandardCharsets.UTF_8);
      assertThat(readme).as("runbooks/README.md lists it").contains("](" + name + ")");
      for (String section :
          List.of("Symptoms", "Impact", "Decision", "Commands", "Verification", "Rollback")) {
        assertThat(text).as("%s: ## %s", name, section).contains("\n## " + section + "\n");
      }
      String drill = drillClass(name);
      assertThat(text).as("%s names its drill", name).contains("`" + drill + "`");
      assertThat(Path.of("src/test/java/io/meridian/ctl/" + drill + ".java")).exists();

      List<RunbookDrill.Block> blocks = RunbookDrill.blocks(text);
      assertThat(blocks).as("%s: sh blocks", name).isNotEmpty();
      for (RunbookDrill.Block b : blocks) {
        Matcher m = VARIABLE.matcher(b.text());
        while (m.find()) {
          String v = m.group(1);
          assertThat(text)
              .as("%s: $%s is in its table, or set by its own commands", name, v)
              .containsPattern("(?m)^\\|.*`" + v + "`.*\\|$|\\b" + v + "=");
        }
      }
    }
  }

  @Test
  void blocksMarkedNoDrillAreLeftOutAndLabelsAreKept() {
    String md =
        "# T\n\n## Commands\n\n```sh\necho a\n```\n\n```sh member\necho b\n```\n\n"
            + "## Rollback\n\n```sh no-drill\necho c\n```\n";
    assertThat(RunbookDrill.blocks(md))
        .containsExactly(
            new RunbookDrill.Block("Commands", "", "echo a\n"),
            new RunbookDrill.Block("Commands", "member", "echo b\n"));
  }

  /** single-node-failure.md -> SingleNodeFailureDrillTest. */
  private static String drillClass(String runbook) {
    StringBuilder out = new StringBuilder();
    for (String word : runbook.replace(".md", "").split("-")) {
      out.append(word.substring(0, 1).toUpperCase(Locale.ROOT)).append(word.substring(1));
    }
    return out.append("DrillTest").toString();
  }
}
