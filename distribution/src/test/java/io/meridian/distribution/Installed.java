package io.meridian.distribution;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The release archive unpacked into an empty directory, and the processes started from it. Every
 * command runs with nothing from this build in its environment: a JDK (this one, as JAVA_HOME), the
 * system's PATH and a home of its own.
 */
final class Installed implements AutoCloseable {
  /** What a command printed (stdout and stderr) and its exit code. */
  record Result(int code, String out) {}

  final Path home;
  private final Path scratch;
  private final List<Process> started = new ArrayList<>();

  private Installed(Path home, Path scratch) {
    this.home = home;
    this.scratch = scratch;
  }

  /** Unpacks the archive the build made ({@code meridian.archive}) under {@code dir}. */
  static Installed unpack(Path dir) throws Exception {
    Path into = Files.createDirectories(dir.resolve("install"));
    Path archive = Path.of(System.getProperty("meridian.archive"));
    Installed bare = new Installed(into, dir);
    Result tar = bare.exec(List.of("tar", "-xzf", archive.toString(), "-C", into.toString()));
    assertThat(tar.code()).as(tar.out()).isZero();
    try (Stream<Path> top = Files.list(into)) {
      List<Path> all = top.toList();
      assertThat(all).as("one top directory").hasSize(1);
      return new Installed(all.get(0), dir);
    }
  }

  /** Runs {@code command} (a path under the archive, or a system tool) to its end. */
  Result exec(List<String> command) throws Exception {
    Path out = Files.createTempFile(scratch, "out", ".txt");
    Process p = builder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    if (!p.waitFor(2, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError(command + " did not end within 2 minutes");
    }
    return new Result(p.exitValue(), Files.readString(out));
  }

  /** Runs {@code command}; what it printed, once it exited 0. */
  String run(String... command) throws Exception {
    Result r = exec(List.of(command));
    assertThat(r.code()).as(String.join(" ", command) + ":\n" + r.out()).isZero();
    return r.out();
  }

  /** Starts {@code command} in the background, its output in {@code <scratch>/<name>.log}. */
  Process start(String name, String... command) throws IOException {
    ProcessBuilder b = builder(List.of(command));
    b.redirectErrorStream(true).redirectOutput(scratch.resolve(name + ".log").toFile());
    Process p = b.start();
    started.add(p);
    return p;
  }

  /** Whether {@code url}/health answers 200. */
  static boolean healthy(String url) throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(url + "/health"))
                    .timeout(Duration.ofSeconds(5))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return r.statusCode() == 200;
  }

  private ProcessBuilder builder(List<String> command) throws IOException {
    List<String> resolved = new ArrayList<>(command);
    if (resolved.get(0).startsWith("bin/")) {
      resolved.set(0, home.resolve(resolved.get(0)).toString());
    }
    ProcessBuilder b = new ProcessBuilder(resolved).directory(home.toFile());
    Map<String, String> env = b.environment();
    env.clear();
    env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("HOME", Files.createDirectories(scratch.resolve("home")).toString());
    // As every test JVM here: C1 only leaves the two cores to the processes.
    env.put("MERIDIAN_JAVA_OPTS", "-XX:TieredStopAtLevel=1");
    return b;
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : started) {
      p.destroy();
    }
    for (Process p : started) {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
  }
}
