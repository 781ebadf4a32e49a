package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.Version;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code bin/meridian}: every command answers --help and --version without starting anything. */
class CommandLineTest {
  private static String run(int expectedCode, String... args) {
    StringWriter out = new StringWriter();
    CommandLine line = Main.commandLine();
    line.setOut(new PrintWriter(out, true));
    line.setErr(new PrintWriter(out, true));
    assertThat(line.execute(args)).as(out.toString()).isEqualTo(expectedCode);
    return out.toString();
  }

  @Test
  void everyCommandHasHelp() {
    assertThat(run(0, "--help")).contains("node", "router", "bridge", "dev");
    assertThat(run(0, "node", "--help")).contains("--config");
    assertThat(run(0, "router", "--help")).contains("--config");
    assertThat(run(0, "bridge", "--help")).contains("--config");
    assertThat(run(0, "dev", "--help")).contains("--state-dir");
  }

  @Test
  void everyCommandPrintsTheVersion() {
    String version = "meridian " + Version.current();
    assertThat(Version.number()).isNotEqualTo("unknown").doesNotContain("${");
    // Built from a Git checkout (as every build of this tree is), the commit is known.
    if (java.nio.file.Files.exists(java.nio.file.Path.of("..", ".git"))) {
      assertThat(Version.commit()).matches("[0-9a-f]{10}");
    }
    assertThat(Version.current())
        .isEqualTo(Version.number() + " (commit " + Version.commit() + ")");
    assertThat(run(0, "-V").trim()).isEqualTo(version);
    for (String command : new String[] {"node", "router", "bridge", "dev"}) {
      assertThat(run(0, command, "--version").trim()).as(command).isEqualTo(version);
    }
  }

  @Test
  void aMissingConfigIsAUsageError() {
    assertThat(run(2, "router")).contains("--config");
  }
}
