package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.DevPointer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One runbook of {@code runbooks/} run as written: its {@code sh} blocks, read from the file so
 * they cannot drift, put together into one {@code bash} script with the variables the runbook asks
 * the operator to fill in, and run against a local deployment.
 *
 * <p>A block's info string may carry one word after {@code sh}: {@code no-drill} blocks are never
 * run (rollback commands); other words name a step a drill runs at a point of its own ({@link
 * #step}). Blocks without a word are the section's ({@link #section}). Symptoms blocks run without
 * {@code errexit}, since {@code status} exits 3 exactly when there is something to see; every other
 * block stops the script at its first failing command, traced by {@code -x}.
 *
 * <p>The script runs in a session of its own ({@code setsid}), so the nodes it starts in the
 * background ({@code nohup bin/meridian node ... &}) stay in its process group after it ends;
 * {@link #close} kills that group.
 */
final class RunbookDrill implements AutoCloseable {
  private static final Pattern SH_BLOCK =
      Pattern.compile("```sh(?: ([\\w-]+))?\\n(.*?)```", Pattern.DOTALL);

  /** A {@code sh} block: the {@code ## section} it is under, its label ("" for none), its text. */
  record Block(String section, String label, String text) {}

  /** What a run printed (stdout and stderr, with the trace) and how it ended. */
  record Run(int code, String output) {
    /** The output from the Symptoms blocks' marker to the next marker. */
    String symptoms() {
      int from = output.indexOf(SYMPTOMS_MARK);
      int to = output.indexOf(END_MARK, from + 1);
      return from < 0 ? "" : output.substring(from, to < 0 ? output.length() : to);
    }
  }

  private static final String SYMPTOMS_MARK = "=== symptoms";
  private static final String END_MARK = "=== end of symptoms";

  private final Path root = ReadmeWalkthroughTest.repository();
  private final String name;
  private final List<Block> blocks;
  private final Path dir;
  private final Map<String, String> variables = new LinkedHashMap<>();
  private final StringBuilder script = new StringBuilder();

  /** The process group of each run, which the nodes it starts stay in. */
  private final List<Path> groups = new ArrayList<>();

  /**
   * The runbook {@code runbooks/<name>}, its runs' output in {@code dir}.
   *
   * @param name e.g. {@code single-node-failure.md}
   */
  RunbookDrill(String name, Path dir) throws IOException {
    this.name = name;
    this.dir = dir;
    String markdown =
        Files.readString(root.resolve("runbooks").resolve(name), StandardCharsets.UTF_8);
    this.blocks = blocks(markdown);
    for (String section :
        List.of("Symptoms", "Impact", "Decision", "Commands", "Verification", "Rollback")) {
      assertThat(markdown)
          .as("%s: its ## %s section", name, section)
          .contains("\n## " + section + "\n");
    }
  }

  /** Every {@code sh} block of {@code markdown} but the {@code no-drill} ones, in order. */
  static List<Block> blocks(String markdown) {
    List<Block> out = new ArrayList<>();
    Matcher m = SH_BLOCK.matcher(markdown);
    while (m.find()) {
      String label = m.group(1) == null ? "" : m.group(1);
      if (label.equals("no-drill")) {
        continue;
      }
      int heading = markdown.lastIndexOf("\n## ", m.start());
      String section =
          heading < 0 ? "" : markdown.substring(heading + 4, markdown.indexOf('\n', heading + 4));
      out.add(new Block(section, label, m.group(2)));
    }
    return out;
  }

  /** Sets {@code name} for the script (exported to it), as the operator fills it in. */
  RunbookDrill set(String variable, Object value) {
    variables.put(variable, String.valueOf(value));
    return this;
  }

  /**
   * Appends the unlabelled blocks of {@code section} (the part before the first {@code ##} for "");
   * Symptoms blocks run without {@code errexit}, between markers ({@link Run#symptoms}).
   */
  RunbookDrill section(String section) {
    List<Block> chosen =
        blocks.stream().filter(b -> b.section().equals(section) && b.label().isEmpty()).toList();
    assertThat(chosen).as("%s: sh blocks under ## %s", name, section).isNotEmpty();
    boolean symptoms = section.equals("Symptoms");
    if (symptoms) {
      script.append("set +e\necho '").append(SYMPTOMS_MARK).append("'\n");
    }
    chosen.forEach(b -> script.append(b.text()).append('\n'));
    if (symptoms) {
      script.append("echo '").append(END_MARK).append("'\nset -e\n");
    }
    return this;
  }

  /** Appends the block labelled {@code label} (e.g. {@code ```sh member}). */
  RunbookDrill step(String label) {
    List<Block> chosen = blocks.stream().filter(b -> b.label().equals(label)).toList();
    assertThat(chosen).as("%s: the sh block labelled %s", name, label).hasSize(1);
    script.append(chosen.get(0).text()).append('\n');
    return this;
  }

  /** Appends a shell assignment: the operator filling a variable in between two steps. */
  RunbookDrill assign(String variable, Object value) {
    script.append(variable).append("='").append(value).append("'\n");
    return this;
  }

  /**
   * Runs what was appended so far in one {@code bash}, from the repository's root, within {@code
   * bound}, and starts a new script for the next run.
   */
  Run run(Duration bound) throws IOException, InterruptedException {
    Path output = dir.resolve(name + "." + groups.size() + ".out");
    Path group = dir.resolve(name + "." + groups.size() + ".pgid");
    groups.add(group);
    StringBuilder full = new StringBuilder("set -euo pipefail\n");
    full.append("ps -o pgid= -p $$ >'").append(group).append("'\nset -x\n");
    variables.forEach(
        (k, v) -> full.append("export ").append(k).append("='").append(v).append("'\n"));
    full.append(script);
    script.setLength(0);
    ProcessBuilder pb =
        new ProcessBuilder("setsid", "--wait", "bash", "-c", full.toString())
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    pb.environment().remove(Meridianctl.ENDPOINTS_ENV);
    // Never the machine's dev federation, only the endpoints the runbook is given.
    pb.environment().put(DevPointer.ENV, dir.resolve("no-dev.pointer").toString());
    // Nodes started by the runbook: small heaps, as ProcessRegion starts its members.
    pb.environment().put("MERIDIAN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC");
    Process bash = pb.start();
    if (!bash.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
      bash.destroyForcibly().waitFor();
      throw new AssertionError(
          name + " did not finish within " + bound + ":\n" + Files.readString(output));
    }
    return new Run(bash.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
  }

  /** Runs and asserts that every command succeeded. */
  Run runGreen(Duration bound) throws IOException, InterruptedException {
    Run run = run(bound);
    assertThat(run.code()).as("%s failed:%n%s", name, run.output()).isZero();
    return run;
  }

  /** Kills what the runs left running (the nodes they started), by their sessions' group ids. */
  @Override
  public void close() throws IOException, InterruptedException {
    for (Path group : groups) {
      if (!Files.exists(group)) {
        continue;
      }
      // The group outlives its leader while a member runs; when none does, kill finds nothing.
      new ProcessBuilder("kill", "-KILL", "--", "-" + Files.readString(group).strip())
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start()
          .waitFor();
    }
  }
}
