package io.meridian.ctl;

import io.meridian.api.DevPointer;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One meridianctl command line run in-process: its exit code and what it printed.
 *
 * <p>Every environment built here points {@link DevPointer#ENV} at a file that does not exist, so a
 * {@code bin/meridian dev} running on the machine is never picked up through the default pointer
 * file: a command line without endpoints fails instead of reaching it.
 */
record CtlRun(int code, String out, String err) {
  /** A pointer file no one writes. */
  private static final String NO_DEV_POINTER =
      Path.of(System.getProperty("java.io.tmpdir"), "meridianctl-test-" + UUID.randomUUID())
          .resolve("no-dev.topology")
          .toString();

  /** Runs {@code args} without endpoints and without a dev federation to fall back on. */
  static CtlRun run(String... args) {
    return run(Map.of(DevPointer.ENV, NO_DEV_POINTER), args);
  }

  /** Runs {@code args} with {@code env} as the environment and an empty standard input. */
  static CtlRun run(Map<String, String> env, String... args) {
    return run(env, InputStream.nullInputStream(), args);
  }

  /** Runs {@code args} with {@code env} as the environment, reading {@code stdin}. */
  static CtlRun run(Map<String, String> env, InputStream stdin, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        Meridianctl.run(env, stdin, new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new CtlRun(code, out.toString(), err.toString());
  }

  /** Runs {@code args} against {@code endpoints}, given as {@code $MERIDIAN_ENDPOINTS}. */
  static CtlRun ctl(String endpoints, String... args) {
    return run(environment(endpoints), args);
  }

  /** Runs {@code args} against {@code endpoints} with {@code stdin} as standard input. */
  static CtlRun ctl(String endpoints, InputStream stdin, String... args) {
    return run(environment(endpoints), stdin, args);
  }

  /** Starts {@code args} against {@code endpoints} in a thread of its own. */
  static Background background(String endpoints, String... args) {
    return new Background(environment(endpoints), args);
  }

  private static Map<String, String> environment(String endpoints) {
    return Map.of(Meridianctl.ENDPOINTS_ENV, endpoints, DevPointer.ENV, NO_DEV_POINTER);
  }

  /**
   * A command line that runs in a thread of its own ({@code lease keep-alive}, {@code lock}, {@code
   * watch}, {@code discover --wait}); its output can be read while it runs. Closing it interrupts
   * it if it still runs.
   */
  static final class Background implements AutoCloseable {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final CompletableFuture<Integer> code = new CompletableFuture<>();
    private final Thread thread;

    private Background(Map<String, String> env, String... args) {
      thread =
          new Thread(
              () -> {
                try {
                  code.complete(
                      Meridianctl.run(
                          env,
                          InputStream.nullInputStream(),
                          new PrintWriter(out, true),
                          new PrintWriter(err, true),
                          args));
                } catch (Throwable t) {
                  code.completeExceptionally(t);
                }
              },
              "meridianctl-" + args[0]);
      thread.setDaemon(true);
      thread.start();
    }

    /** What it has printed to stdout so far. */
    String out() {
      return out.toString();
    }

    /** What it has printed to stderr so far. */
    String err() {
      return err.toString();
    }

    boolean isDone() {
      return code.isDone();
    }

    /** The exit code; call once {@link #isDone()}. */
    int code() {
      return code.join();
    }

    /**
     * Waits up to {@code timeout} for the command to end.
     *
     * @return its exit code and all it printed
     * @throws TimeoutException if it still runs then
     */
    CtlRun await(Duration timeout)
        throws InterruptedException, ExecutionException, TimeoutException {
      int exit = code.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return new CtlRun(exit, out(), err());
    }

    @Override
    public void close() throws InterruptedException {
      if (thread.isAlive()) {
        thread.interrupt();
        thread.join(30_000);
      }
    }
  }
}
