package io.meridian.serving;

import java.util.concurrent.CountDownLatch;

/** How a Meridian process (node, router, dev federation) waits to be stopped. */
public final class Shutdown {
  private Shutdown() {}

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
}
