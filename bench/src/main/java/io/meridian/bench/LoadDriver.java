package io.meridian.bench;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * Drives an asynchronous operation for a warm-up and then a measured window, each bounded in time.
 *
 * <ul>
 *   <li><b>Closed loop</b> at concurrency N: N workers, each starting its next operation when the
 *       previous one completes, so N operations are outstanding. An operation is measured when it
 *       completes inside the window, latency from its start.
 *   <li><b>Open loop</b> at rate R: operation i is due at {@code start + i / R} whatever happened
 *       to the earlier ones; an operation is measured when it was due inside the window, latency
 *       from when it was due (not from when it was actually sent), so a stall of the server or of
 *       the sender shows in the latencies instead of being hidden (coordinated omission).
 * </ul>
 *
 * After the window no new operation starts; outstanding ones are awaited (up to {@link #DRAIN}) so
 * a workload leaves nothing in flight for the next.
 */
final class LoadDriver {
  /**
   * What the driver runs; {@code worker} is the closed-loop worker or open-loop sequence number.
   */
  interface Op {
    CompletableFuture<?> start(int worker);
  }

  static final Duration DRAIN = Duration.ofSeconds(60);

  /** A failed worker waits this long before its next operation, so errors do not spin. */
  private static final long ERROR_BACKOFF_MS = 10;

  /** Two minutes in microseconds: longer latencies are recorded as two minutes. */
  static final long HIGHEST_US = 120_000_000L;

  private final Duration warmup;
  private final Duration duration;
  private final ScheduledExecutorService backoff =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "bench-backoff");
            t.setDaemon(true);
            return t;
          });

  private final ProcessCpu servers;

  /** A driver that does not measure the servers' CPU time. */
  LoadDriver(Duration warmup, Duration duration) {
    this(warmup, duration, null);
  }

  /**
   * @param servers whose CPU time each window's result reports per operation; null: none
   */
  LoadDriver(Duration warmup, Duration duration, ProcessCpu servers) {
    this.warmup = warmup;
    this.duration = duration;
    this.servers = servers;
  }

  /**
   * Runs {@code op} once for each of {@code 0 .. count - 1}, at most {@code inFlight} outstanding,
   * and returns when all completed: a fixed-size load (writing every key once), not measured. More
   * than 3 failures (a leader change may fail one or two) or {@code limit} passing end it with an
   * {@link IllegalStateException} naming {@code what}.
   */
  static void each(String what, int count, int inFlight, Duration limit, Op op)
      throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(inFlight);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong failed = new AtomicLong();
    for (int i = 0; i < count && failure.get() == null; i++) {
      if (!slots.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new IllegalStateException(what + ": not done within " + limit);
      }
      op.start(i)
          .whenComplete(
              (ok, e) -> {
                slots.release();
                if (e != null && failed.incrementAndGet() > 3) {
                  failure.compareAndSet(null, e);
                }
              });
    }
    if (!slots.tryAcquire(
        inFlight, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      throw new IllegalStateException(what + ": not done within " + limit);
    }
    if (failure.get() != null) {
      throw new IllegalStateException(
          what + ": operations failed: " + Endpoints.describe(failure.get()), failure.get());
    }
  }

  Duration warmup() {
    return warmup;
  }

  Duration duration() {
    return duration;
  }

  /** Runs {@code op} with {@code concurrency} outstanding operations. */
  Result closed(String workload, int concurrency, Op op) throws InterruptedException {
    Window window = new Window();
    CountDownLatch done = new CountDownLatch(concurrency);
    for (int w = 0; w < concurrency; w++) {
      loop(w, op, window, done);
    }
    if (!done.await(window.end - System.nanoTime() + DRAIN.toNanos(), TimeUnit.NANOSECONDS)) {
      System.err.printf(
          "bench: %s: %d workers still waiting %d s after the window%n",
          workload, done.getCount(), DRAIN.toSeconds());
    }
    return window.result(workload, "closed loop, concurrency " + concurrency);
  }

  private void loop(int worker, Op op, Window window, CountDownLatch done) {
    long start = System.nanoTime();
    if (start >= window.end) {
      done.countDown();
      return;
    }
    start(op, worker)
        .whenComplete(
            (r, e) -> {
              long now = System.nanoTime();
              if (now >= window.measureStart && now <= window.end) {
                window.record(now - start, e);
              }
              if (e == null) {
                loop(worker, op, window, done);
              } else {
                backoff.schedule(
                    () -> loop(worker, op, window, done), ERROR_BACKOFF_MS, TimeUnit.MILLISECONDS);
              }
            });
  }

  /** Runs {@code op} at {@code rate} operations per second, on a fixed schedule. */
  Result open(String workload, double rate, Op op) throws InterruptedException {
    Window window = new Window();
    AtomicLong outstanding = new AtomicLong();
    double periodNanos = 1e9 / rate;
    for (long i = 0; ; i++) {
      long due = window.start + (long) (i * periodNanos);
      if (due >= window.end) {
        break;
      }
      for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
        LockSupport.parkNanos(wait);
      }
      outstanding.incrementAndGet();
      start(op, (int) i)
          .whenComplete(
              (r, e) -> {
                long now = System.nanoTime();
                if (due >= window.measureStart) {
                  window.record(now - due, e);
                }
                outstanding.decrementAndGet();
              });
    }
    long drainEnd = System.nanoTime() + DRAIN.toNanos();
    while (outstanding.get() > 0 && System.nanoTime() < drainEnd) {
      Thread.sleep(10);
    }
    if (outstanding.get() > 0) {
      System.err.printf(
          "bench: %s: %d operations outstanding %d s after the window%n",
          workload, outstanding.get(), DRAIN.toSeconds());
    }
    return window.result(workload, String.format("open loop, %.0f ops/s scheduled", rate));
  }

  /**
   * Runs {@code op} once for each of {@code count} items ({@code 0..count-1}), {@code concurrency}
   * at a time; every operation is measured, latency from its start, and ops/s counts successful
   * operations per second of the whole batch. A failed item is counted, not retried. No item starts
   * after {@code timeout}; progress is printed every 15 s.
   */
  Result batch(String workload, int concurrency, int count, Duration timeout, IntOp op)
      throws InterruptedException {
    Tally tally = new Tally();
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    CountDownLatch done = new CountDownLatch(concurrency);
    ScheduledFuture<?> progress =
        backoff.scheduleAtFixedRate(
            () ->
                System.err.printf(
                    "bench: %s: %d of %d done, %d errors, %.0f s%n",
                    workload,
                    tally.latencies.getTotalCount() + tally.errors.get(),
                    count,
                    tally.errors.get(),
                    (System.nanoTime() - start) / 1e9),
            15,
            15,
            TimeUnit.SECONDS);
    try {
      for (int w = 0; w < concurrency; w++) {
        batchLoop(op, next, count, deadline, tally, done);
      }
      if (!done.await(timeout.toNanos() + DRAIN.toNanos(), TimeUnit.NANOSECONDS)) {
        System.err.printf(
            "bench: %s: %d workers still waiting %d s after the time limit%n",
            workload, done.getCount(), DRAIN.toSeconds());
      }
    } finally {
      progress.cancel(false);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    int started = Math.min(next.get(), count);
    String load = String.format("%,d operations, concurrency %d", count, concurrency);
    if (started < count) {
      System.err.printf(
          "bench: %s: stopped after %d s with %d of %d started%n",
          workload, timeout.toSeconds(), started, count);
      load =
          String.format(
              "%,d operations planned, concurrency %d; stopped at the %d s limit, %,d started",
              count, concurrency, timeout.toSeconds(), started);
    }
    return tally.result(workload, load, seconds);
  }

  /** An operation on item {@code i} of a batch. */
  interface IntOp {
    CompletableFuture<?> start(int i);
  }

  private void batchLoop(
      IntOp op, AtomicInteger next, int count, long deadline, Tally tally, CountDownLatch done) {
    int i = next.getAndIncrement();
    long start = System.nanoTime();
    if (i >= count || start >= deadline) {
      done.countDown();
      return;
    }
    CompletableFuture<?> call;
    try {
      call = op.start(i);
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete(
        (r, e) -> {
          tally.record(System.nanoTime() - start, e);
          if (e == null) {
            batchLoop(op, next, count, deadline, tally, done);
          } else {
            backoff.schedule(
                () -> batchLoop(op, next, count, deadline, tally, done),
                ERROR_BACKOFF_MS,
                TimeUnit.MILLISECONDS);
          }
        });
  }

  private static CompletableFuture<?> start(Op op, int worker) {
    try {
      return op.start(worker);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** The warm-up and measured window of one run and what was measured in it. */
  private final class Window extends Tally {
    final long start = System.nanoTime();
    final long measureStart = start + warmup.toNanos();
    final long end = measureStart + duration.toNanos();
    final java.util.concurrent.CompletableFuture<Double> cpuAtStart = sampleAt(measureStart);
    final java.util.concurrent.CompletableFuture<Double> cpuAtEnd = sampleAt(end);

    private java.util.concurrent.CompletableFuture<Double> sampleAt(long when) {
      java.util.concurrent.CompletableFuture<Double> sample =
          new java.util.concurrent.CompletableFuture<>();
      if (servers == null) {
        sample.complete(Double.NaN);
      } else {
        backoff.schedule(
            () -> sample.complete(servers.millis()),
            Math.max(0, when - System.nanoTime()),
            TimeUnit.NANOSECONDS);
      }
      return sample;
    }

    Result result(String workload, String load) {
      Result r = result(workload, load, duration.toNanos() / 1e9);
      return servers == null ? r : r.withCpu(cpuAtEnd.join() - cpuAtStart.join());
    }
  }

  /** Latencies (microseconds) and errors of measured operations; thread-safe. */
  static class Tally {
    final Histogram latencies = new ConcurrentHistogram(HIGHEST_US, 3);
    final AtomicLong errors = new AtomicLong();
    final AtomicReference<String> firstError = new AtomicReference<>();

    void record(long nanos, Throwable error) {
      if (error == null) {
        latencies.recordValue(Math.max(1, Math.min(HIGHEST_US, nanos / 1000)));
      } else {
        errors.incrementAndGet();
        firstError.compareAndSet(null, Endpoints.describe(error));
      }
    }

    /** What was measured, with ops/s counted over {@code seconds}. */
    Result result(String workload, String load, double seconds) {
      return Result.of(workload, load, latencies, seconds, errors.get(), firstError.get());
    }
  }
}
