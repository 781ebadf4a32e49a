package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meridian.api.DevPointer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's walkthrough, run as written: every {@code sh} block of its "Walkthrough" section, in
 * order and in one shell, against a fresh {@code bin/meridian dev} started as a user starts it. Any
 * command that exits non-zero, or any HTTP call answered with an error, fails the test, so the
 * README cannot drift from the product. The same run checks that the federation starts and stops
 * without a WARN or ERROR in its log.
 */
@Tag("cluster")
class ReadmeWalkthroughTest {
  private static final Pattern SH_BLOCK = Pattern.compile("```sh\\n(.*?)```", Pattern.DOTALL);
  private static final Pattern NOISE = Pattern.compile("(?m)^\\S+ (WARN|ERROR) .*$");

  @TempDir Path dir;

  /** The repository's root: where {@code bin/meridian} is, above the module's directory. */
  static Path repository() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isRegularFile(p.resolve("bin/meridian"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("no bin/meridian above " + Path.of("").toAbsolutePath());
    }
    return p;
  }

  /** The {@code sh} blocks of the README section under {@code ## heading}, in order. */
  static List<String> blocks(String readme, String heading) {
    int from = readme.indexOf("\n## " + heading + "\n");
    assertThat(from).as("README section ## " + heading).isNotNegative();
    int to = readme.indexOf("\n## ", from + heading.length() + 4);
    Matcher m = SH_BLOCK.matcher(readme.substring(from, to < 0 ? readme.length() : to));
    List<String> blocks = new ArrayList<>();
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  @Test
  void theWalkthroughRunsAsWrittenAndTheFederationStartsAndStopsQuietly() throws Exception {
    Path root = repository();
    List<String> blocks =
        blocks(Files.readString(root.resolve("README.md"), StandardCharsets.UTF_8), "Walkthrough");
    assertThat(blocks).hasSizeGreaterThanOrEqualTo(5);

    Path pointer = dir.resolve("dev.pointer");
    Path devLog = dir.resolve("dev.log");
    ProcessBuilder start =
        new ProcessBuilder(
                root.resolve("bin/meridian").toString(),
                "dev",
                "--state-dir",
                dir.resolve("state").toString())
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(devLog.toFile());
    start.environment().put(DevPointer.ENV, pointer.toString());
    // The C1 compiler only, as every test JVM here: on two cores the optimizing compiler's
    // threads took CPU the walkthrough waits on.
    start.environment().put("MERIDIAN_JAVA_OPTS", "-XX:TieredStopAtLevel=1");
    Process dev = start.start();
    try {
      await()
          .atMost(Duration.ofMinutes(4))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> Files.exists(pointer) || !dev.isAlive());
      assertThat(dev.isAlive()).as("bin/meridian dev died:%n%s", read(devLog)).isTrue();

      StringBuilder script = new StringBuilder();
      // Trace each command, so a failure names it; an HTTP error status fails curl with its body.
      script.append("set -euo pipefail -x\n");
      script.append("curl() { command curl --fail-with-body \"$@\"; echo; }\n");
      boolean curl = new ProcessBuilder("curl", "--version").start().waitFor() == 0;
      for (String block : blocks) {
        if (block.contains("curl ") && !curl) {
          continue; // Only the raw HTTP section uses curl, which this machine lacks.
        }
        script.append(block).append('\n');
      }
      Path output = dir.resolve("walkthrough.out");
      ProcessBuilder walk =
          new ProcessBuilder("bash", "-c", script.toString())
              .directory(root.toFile())
              .redirectErrorStream(true)
              .redirectOutput(output.toFile());
      walk.environment().remove(Meridianctl.ENDPOINTS_ENV);
      walk.environment().put(DevPointer.ENV, pointer.toString());
      walk.environment().put("U", usEastRouter(pointer));
      Process run = walk.start();
      if (!run.waitFor(10, TimeUnit.MINUTES)) {
        run.destroyForcibly().waitFor();
        throw new AssertionError("the walkthrough did not finish in 10 min:\n" + read(output));
      }
      assertThat(run.exitValue()).as("the walkthrough failed:%n%s", read(output)).isZero();
      assertThat(read(output)).contains("the report runs with token").contains("HEALTHY");
    } finally {
      dev.destroy();
      if (!dev.waitFor(2, TimeUnit.MINUTES)) {
        dev.destroyForcibly().waitFor();
      }
    }
    assertThat(dev.exitValue()).as("the exit of a stopped dev federation").isIn(0, 143);
    String log = read(devLog);
    List<String> noise = NOISE.matcher(log).results().map(r -> r.group()).toList();
    assertThat(noise).as("WARN and ERROR lines of a normal start and stop").isEmpty();
    assertThat(pointer).as("the pointer is removed at stop").doesNotExist();
  }

  /** The us-east router's URL, from the topology the pointer names. */
  private static String usEastRouter(Path pointer) throws IOException {
    Path topology = DevPointer.read(pointer).orElseThrow();
    for (JsonNode p : new ObjectMapper().readTree(topology.toFile()).path("processes")) {
      if ("router".equals(p.path("kind").asText()) && "us-east".equals(p.path("region").asText())) {
        return p.path("client_url").asText();
      }
    }
    throw new IllegalStateException(topology + ": no us-east router");
  }

  private static String read(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
  }
}
