package io.meridian.testing.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Where a chaos run that found a violation leaves what it takes to understand and replay it: the
 * seed, the nemesis schedule, each verdict with its minimal evidence, every member's log, and (in a
 * directory per workload) what its clients did. The directory is {@code target/chaos/<run>-<seed>}
 * of the module that ran it.
 */
public final class Evidence {
  private Evidence() {}

  /** The directory a run named {@code run} with {@code seed} keeps its evidence in. */
  public static Path dir(String run, long seed) {
    return Path.of("target", "chaos", run + "-" + seed).toAbsolutePath();
  }

  /**
   * Writes the evidence of a run and returns its directory.
   *
   * @param logs the members' log files, copied under their own names
   */
  public static Path write(
      String run, long seed, Nemesis nemesis, List<Verdict> verdicts, List<Path> logs)
      throws IOException {
    Path dir = dir(run, seed);
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("seed"),
        seed + "\nreplay: -Dmeridian.chaos.seed=" + seed + " (same test, same schedule)\n");
    nemesis.write(dir.resolve("nemesis.log"));
    StringBuilder v = new StringBuilder();
    verdicts.forEach(verdict -> v.append(verdict).append("\n\n"));
    Files.writeString(dir.resolve("verdicts.txt"), v);
    keepLogs(dir, logs);
    return dir;
  }

  /** Copies the members' log files that exist into {@code dir}, under their own names. */
  public static void keepLogs(Path dir, List<Path> logs) throws IOException {
    Files.createDirectories(dir);
    for (Path log : logs) {
      if (Files.exists(log)) {
        Files.copy(log, dir.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }
}
