package io.meridian.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The {@link WatchFanout} JVM as the bench sees it: started with the bench's own classpath, its
 * standard output parsed into what its watchers saw, its standard error appended to a log file.
 * {@link #close()} asks it to stop, then kills it; a shutdown hook does the same on Ctrl-C, and the
 * process also exits by itself when the bench's end of its standard input closes.
 */
final class WatcherProcess implements AutoCloseable {
  /** JVM flags of the watcher process. */
  static final String JVM_OPTIONS = "-Xmx512m";

  /** When the last watcher saw a write: {@code {send µs, first watcher µs, last watcher µs}}. */
  private final Map<Integer, long[]> last = new ConcurrentHashMap<>();

  private final Map<Integer, Integer> partial = new ConcurrentHashMap<>();
  // Guarded by this.
  private final List<String> errors = new ArrayList<>();
  private final CountDownLatch ready = new CountDownLatch(1);
  private final CountDownLatch ended = new CountDownLatch(1);
  private final Process process;
  private final Thread hook;
  private volatile String readyLine;
  private volatile String stats;
  private boolean closed;

  private WatcherProcess(Process process) {
    this.process = process;
    this.hook = new Thread(process::destroyForcibly, "bench-stop-watchers");
  }

  /** Starts {@code WatchFanout} with {@code args}; its standard error goes to {@code log}. */
  static WatcherProcess start(List<String> args, Path log) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of(JVM_OPTIONS.split(" ")));
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(WatchFanout.class.getName());
    command.addAll(args);
    Process process =
        new ProcessBuilder(command)
            .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    WatcherProcess watchers = new WatcherProcess(process);
    Runtime.getRuntime().addShutdownHook(watchers.hook);
    Thread reader = new Thread(watchers::read, "bench-watcher-output");
    reader.setDaemon(true);
    reader.start();
    return watchers;
  }

  long pid() {
    return process.pid();
  }

  private void read() {
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        String[] f = line.split(" ");
        switch (f[0]) {
          case "LAST" ->
              last.put(
                  Integer.parseInt(f[1]),
                  new long[] {Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4])});
          case "READY" -> {
            readyLine = line;
            System.err.println("bench: watchers: " + line);
            ready.countDown();
          }
          case "PARTIAL" -> partial.put(Integer.parseInt(f[1]), Integer.parseInt(f[2]));
          case "STATS" -> {
            stats = line.substring(6);
            System.err.println("bench: watchers: " + line);
          }
          default -> {
            synchronized (this) {
              errors.add(line);
            }
            System.err.println("bench: watchers: " + line);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("bench: watchers: output unreadable: " + e);
    } finally {
      ended.countDown();
    }
  }

  /** Waits until every watch is created; returns the READY line. */
  String awaitReady(Duration timeout) throws InterruptedException {
    if (!ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(
          "watcher process not ready after "
              + timeout.toSeconds()
              + " s"
              + (process.isAlive() ? "" : " (exited with status " + process.exitValue() + ")")
              + "; its output: "
              + errors());
    }
    return readyLine;
  }

  /** Write index to {@code {send µs, first watcher µs, last watcher µs}}, as reported so far. */
  Map<Integer, long[]> last() {
    return last;
  }

  /** Writes not seen by every watcher when the process stopped: index to watchers that saw it. */
  Map<Integer, Integer> partial() {
    return partial;
  }

  synchronized List<String> errors() {
    return List.copyOf(errors);
  }

  /** The STATS line's content, once the process has stopped. */
  String stats() {
    return stats;
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Asks the process to stop (STOP), waits up to 20 s for its last output, then kills it. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      OutputStream in = process.getOutputStream();
      in.write("STOP\n".getBytes(StandardCharsets.UTF_8));
      in.flush();
      in.close();
    } catch (IOException e) {
      // Already gone.
    }
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      ended.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // Already shutting down: the hook is running or has run.
    }
  }
}
