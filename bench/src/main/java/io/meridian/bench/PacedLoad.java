package io.meridian.bench;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * An open loop that runs in the background until closed: operation {@code i} is due at {@code start
 * + i / rate} and works on slot {@code i mod slots}, so with {@code slots = rate * period} every
 * slot comes round once per period (the registry's heartbeats: 50,000 instances at 5,000/s, each
 * every 10 s). {@link #measure} records the operations due inside one window, latency from when
 * each was due, as {@link LoadDriver#open} does; operations due outside a window are counted (sent,
 * failed) but not measured.
 *
 * <p>Bounded: at most {@code maxOutstanding} operations are in flight (a due operation beyond that
 * is not sent and counts as an error), and the loop stops after {@code maxLifetime} even if nobody
 * closes it.
 */
final class PacedLoad implements AutoCloseable {
  /** What the loop runs; returns null when there is nothing to do for the slot yet. */
  interface SlotOp {
    CompletableFuture<?> start(int slot);
  }

  private final String name;
  private final double rate;
  private final int slots;
  private final int maxOutstanding;
  private final long maxLifetimeNanos;
  private final SlotOp op;
  private final Thread thread;
  private final AtomicLong outstanding = new AtomicLong();
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final LoadDriver.Tally background = new LoadDriver.Tally();
  private volatile boolean stopped;

  // Written by the caller of measure() before the window starts, read by the loop thread.
  private volatile LoadDriver.Tally window;
  private volatile long windowStart = Long.MAX_VALUE;
  private volatile long windowEnd = Long.MAX_VALUE;
  private final AtomicLong windowOutstanding = new AtomicLong();

  private PacedLoad(
      String name, double rate, int slots, int maxOutstanding, Duration maxLifetime, SlotOp op) {
    this.name = name;
    this.rate = rate;
    this.slots = slots;
    this.maxOutstanding = maxOutstanding;
    this.maxLifetimeNanos = maxLifetime.toNanos();
    this.op = op;
    this.thread = new Thread(this::run, "bench-paced-" + name);
    this.thread.setDaemon(true);
  }

  /** Starts the loop now. */
  static PacedLoad start(
      String name, double rate, int slots, int maxOutstanding, Duration maxLifetime, SlotOp op) {
    if (rate <= 0 || slots < 1 || maxOutstanding < 1) {
      throw new IllegalArgumentException(
          String.format(
              "rate %s, slots %d, maxOutstanding %d (expected: > 0, >= 1, >= 1)",
              rate, slots, maxOutstanding));
    }
    PacedLoad load = new PacedLoad(name, rate, slots, maxOutstanding, maxLifetime, op);
    load.thread.start();
    return load;
  }

  private void run() {
    long start = System.nanoTime();
    double periodNanos = 1e9 / rate;
    for (long i = 0; !stopped; i++) {
      long due = start + (long) (i * periodNanos);
      if (due - start > maxLifetimeNanos) {
        System.err.printf("bench: %s: stopped after its time limit%n", name);
        return;
      }
      for (long wait = due - System.nanoTime(); wait > 0 && !stopped; ) {
        LockSupport.parkNanos(wait);
        wait = due - System.nanoTime();
      }
      if (stopped) {
        return;
      }
      boolean measured = due >= windowStart && due < windowEnd;
      LoadDriver.Tally tally = measured ? window : background;
      if (outstanding.get() >= maxOutstanding) {
        failed.incrementAndGet();
        tally.record(
            0,
            new IllegalStateException(
                "not sent: " + maxOutstanding + " operations already outstanding"));
        continue;
      }
      CompletableFuture<?> call;
      try {
        call = op.start((int) (i % slots));
      } catch (RuntimeException e) {
        call = CompletableFuture.failedFuture(e);
      }
      if (call == null) {
        continue;
      }
      sent.incrementAndGet();
      outstanding.incrementAndGet();
      if (measured) {
        windowOutstanding.incrementAndGet();
      }
      call.whenComplete(
          (r, e) -> {
            tally.record(System.nanoTime() - due, e);
            if (e != null) {
              failed.incrementAndGet();
            }
            outstanding.decrementAndGet();
            if (measured) {
              windowOutstanding.decrementAndGet();
            }
          });
    }
  }

  /**
   * Lets {@code warmup} pass, then measures the operations due in the next {@code duration}; waits
   * for them to complete (up to {@link LoadDriver#DRAIN}).
   */
  Result measure(String workload, String load, Duration warmup, Duration duration)
      throws InterruptedException {
    LoadDriver.Tally tally = new LoadDriver.Tally();
    long start = System.nanoTime() + warmup.toNanos();
    long end = start + duration.toNanos();
    window = tally;
    windowEnd = end;
    windowStart = start;
    long now;
    while ((now = System.nanoTime()) < end) {
      TimeUnit.NANOSECONDS.sleep(Math.min(end - now, 100_000_000L));
    }
    long drainEnd = end + LoadDriver.DRAIN.toNanos();
    while (windowOutstanding.get() > 0 && System.nanoTime() < drainEnd) {
      Thread.sleep(10);
    }
    if (windowOutstanding.get() > 0) {
      System.err.printf(
          "bench: %s: %d operations outstanding %d s after the window%n",
          workload, windowOutstanding.get(), LoadDriver.DRAIN.toSeconds());
    }
    windowStart = Long.MAX_VALUE;
    windowEnd = Long.MAX_VALUE;
    return tally.result(workload, load, duration.toNanos() / 1e9);
  }

  /** Operations sent so far (measured or not). */
  long sent() {
    return sent.get();
  }

  /** Operations that failed or were not sent so far (measured or not). */
  long failed() {
    return failed.get();
  }

  /** The first error outside the measured windows, or null. */
  String firstBackgroundError() {
    return background.firstError.get();
  }

  /** Stops sending; operations in flight complete on their own. */
  @Override
  public void close() {
    stopped = true;
    LockSupport.unpark(thread);
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
