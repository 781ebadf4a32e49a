package io.meridian.serving;

import io.meridian.api.MeridianException;
import io.meridian.serving.config.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/** How a Meridian process (node, router, dev federation) waits to be stopped. */
public final class Shutdown {
  private Shutdown() {}

  /** Starts a process role from its loaded configuration. */
  @FunctionalInterface
  public interface Starter<C, S extends AutoCloseable> {
    S start(C config) throws Exception;
  }

  /**
   * What {@code meridian node|router|bridge --config FILE} does: loads {@code file}, starts the
   * role, prints {@code banner} of it, and runs until the process is stopped.
   *
   * @return the process's exit code: 0 once stopped, 2 for a file the role refuses (the message,
   *     naming the file and the key, goes to stderr) or a configuration the role refuses at start
   */
  public static <C, S extends AutoCloseable> int serve(
      Path file, Function<Path, C> load, Starter<C, S> start, Function<S, String> banner)
      throws Exception {
    S running;
    try {
      running = start.start(load.apply(file));
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    } catch (MeridianException e) {
      System.err.println(file + ": " + e.getMessage());
      return 2;
    }
    System.out.println(banner.apply(running));
    await(running);
    return 0;
  }

  /** Blocks until the JVM is asked to stop (Ctrl-C, SIGTERM), then closes {@code running}. */
  public static void await(AutoCloseable running) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    running.close();
                  } catch (Exception e) {
                    System.err.println("shutdown: " + e);
                  }
                  stopped.countDown();
                },
                "meridian-shutdown"));
    stopped.await();
  }

  /**
   * Closes every one of {@code parts} at once, each on its own thread, and returns when all are
   * closed: members of a cluster stop in the time of the slowest, not of the sum. A part that fails
   * to close is reported on stderr and does not keep the others open.
   */
  public static void closeAll(String what, java.util.Collection<? extends AutoCloseable> parts) {
    java.util.List<Thread> closing = new java.util.ArrayList<>();
    int i = 0;
    for (AutoCloseable part : parts) {
      Thread t =
          new Thread(
              () -> {
                try {
                  part.close();
                } catch (Exception e) {
                  System.err.println("closing " + what + ": " + e);
                }
              },
              "meridian-close-" + what + "-" + i++);
      t.start();
      closing.add(t);
    }
    boolean interrupted = false;
    for (Thread t : closing) {
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
