package io.meridian.testing.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The client threads of one workload: started together, each running its loop until {@link
 * #stop()}, which waits for every one to finish the operation it has in flight.
 */
final class Clients {
  private final String name;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean stopped;

  /** Client threads named {@code <name>-<n>}. */
  Clients(String name) {
    this.name = name;
  }

  /** Starts {@code count} clients; client {@code n} runs {@code loop.accept(n)}. */
  void start(int count, IntConsumer loop) {
    for (int c = 0; c < count; c++) {
      int client = c;
      Thread t = new Thread(() -> loop.accept(client), name + "-" + threads.size());
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }
  }

  /** Whether the clients were told to stop: each loop checks it between operations. */
  boolean stopped() {
    return stopped;
  }

  /** Tells every client to stop and waits for each. */
  void stop() throws InterruptedException {
    stopped = true;
    for (Thread t : threads) {
      t.join();
    }
  }

  /** Sleeps {@code millis}, or less if the clients are told to stop meanwhile. */
  void pause(long millis) {
    long until = System.nanoTime() + millis * 1_000_000;
    try {
      while (!stopped && System.nanoTime() < until) {
        Thread.sleep(Math.max(1, Math.min(50, (until - System.nanoTime()) / 1_000_000)));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
