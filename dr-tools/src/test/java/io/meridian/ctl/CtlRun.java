package io.meridian.ctl;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** One meridianctl command line run in-process: its exit code and what it printed. */
record CtlRun(int code, String out, String err) {
  /** Runs {@code args} with {@code env} as the environment. */
  static CtlRun run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Meridianctl.run(env, new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new CtlRun(code, out.toString(), err.toString());
  }

  /** Runs {@code args} against {@code endpoints}, given as {@code $MERIDIAN_ENDPOINTS}. */
  static CtlRun ctl(String endpoints, String... args) {
    return run(Map.of(Meridianctl.ENDPOINTS_ENV, endpoints), args);
  }

  /** Starts {@code args} against {@code endpoints} in a thread of its own. */
  static Background background(String endpoints, String... args) {
    return new Background(endpoints, args);
  }

  /**
   * A command line that runs until it ends by itself ({@code lease keep-alive}, {@code lock}); its
   * output can be read while it runs. Closing it interrupts it if it still runs.
   */
  static final class Background implements AutoCloseable {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final CompletableFuture<Integer> code = new CompletableFuture<>();
    private final Thread thread;

    private Background(String endpoints, String... args) {
      thread =
          new Thread(
              () -> {
                try {
                  code.complete(
                      Meridianctl.run(
                          Map.of(Meridianctl.ENDPOINTS_ENV, endpoints),
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

    String out() {
      return out.toString();
    }

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

    @Override
    public void close() throws InterruptedException {
      if (thread.isAlive()) {
        thread.interrupt();
        thread.join(30_000);
      }
    }
  }
}
