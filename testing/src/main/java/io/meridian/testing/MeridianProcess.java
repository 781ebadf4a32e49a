package io.meridian.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One process started as a user starts it, {@code bin/meridian <command> --config <file>} (a node,
 * a router or a bridge), that a test can SIGKILL, SIGSTOP, SIGCONT and start again on the same
 * configuration. Its output is appended to one log file across restarts. Runs from a module
 * directory of this repository (it starts {@code ../bin/meridian}).
 *
 * <pre>{@code
 * MeridianProcess router = new MeridianProcess(List.of("router", "--config", yaml), log, Map.of());
 * router.start();
 * router.pause();   // frozen: threads, timers and sockets alike
 * router.resume();
 * router.kill();
 * }</pre>
 */
public final class MeridianProcess {
  private final List<String> command;
  private final Path log;
  private final Map<String, String> environment;
  private Process process;

  /**
   * {@code arguments} after {@code bin/meridian}, run behind {@code prefix} (e.g. {@code ip netns
   * exec NS}), with {@code environment} added to this process's, output appended to {@code log}.
   */
  public MeridianProcess(
      List<String> prefix, List<String> arguments, Path log, Map<String, String> environment) {
    List<String> all = new ArrayList<>(prefix);
    all.add(Path.of("..", "bin", "meridian").toAbsolutePath().normalize().toString());
    all.addAll(arguments);
    this.command = List.copyOf(all);
    this.log = log;
    this.environment = Map.copyOf(environment);
  }

  /** Starts it (again, after a kill). */
  public synchronized void start() throws IOException {
    Files.createDirectories(log.toAbsolutePath().getParent());
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(environment);
    process = pb.start();
  }

  /** Whether it was started and has not ended. */
  public synchronized boolean alive() {
    return process != null && process.isAlive();
  }

  /** Its process id (the JVM: bin/meridian execs java). */
  public synchronized long pid() {
    return process.pid();
  }

  /** Its output, every run of it. */
  public Path log() {
    return log;
  }

  /**
   * SIGKILLs it and what it started (behind a prefix such as strace the JVM is a child, which would
   * outlive its parent), and waits for them to end. Nothing happens if it is not running.
   */
  public void kill() {
    // Collected once: a killed parent's descendants are no longer listed under it.
    List<ProcessHandle> all = handles();
    all.forEach(ProcessHandle::destroyForcibly);
    all.forEach(h -> h.onExit().join());
  }

  /** It and its descendants, for a kill of several processes in one instant. */
  synchronized List<ProcessHandle> handles() {
    if (process == null) {
      return List.of();
    }
    List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
    all.add(process.toHandle());
    return all;
  }

  /** SIGSTOP: it freezes, threads, timers and sockets alike. */
  public void pause() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** SIGCONT. */
  public void resume() throws IOException, InterruptedException {
    signal("CONT");
  }

  private void signal(String signal) throws IOException, InterruptedException {
    long pid = pid();
    int exit = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor();
    if (exit != 0) {
      throw new IOException("kill -" + signal + " " + pid + " exited " + exit);
    }
  }

  /**
   * Writes every thread's stack to {@code file} ({@code jcmd Thread.print}, from this JDK), if it
   * runs: the evidence of a process that stopped making progress. Nothing is written for one that
   * is down or does not answer within 30 s.
   */
  public void threadDump(Path file) throws IOException, InterruptedException {
    if (!alive()) {
      return;
    }
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process dump =
        new ProcessBuilder(jcmd.toString(), Long.toString(pid()), "Thread.print", "-l")
            .redirectErrorStream(true)
            .redirectOutput(file.toFile())
            .start();
    if (!dump.waitFor(30, TimeUnit.SECONDS)) {
      dump.destroyForcibly();
    }
  }
}
