package io.meridian.cluster.registry;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongToDoubleFunction;

/**
 * Registry self-preservation, decided by the shard leader: every check interval it compares the
 * registry renewals it saw with the renewals the instances promised (each instance's own heartbeat
 * interval), and below the threshold it stops evicting registry instances, because a mass of missed
 * heartbeats more likely means a network problem than a mass of dead instances.
 *
 * <p>Renewal counts live only in the leader's memory, so after a leader change the first window is
 * skipped: its counts would be partial. Below {@code minInstances} self-preservation is never on:
 * with few instances a low ratio says little. The decision is committed by the caller ({@code
 * SetSelfPreservation}), so every member and the next leader know it.
 *
 * <p>Thread-safe: renewals are counted from request threads, the check runs on the duty thread.
 */
public final class SelfPreservation {
  /** A change to commit: turn self-preservation on or off, and why. */
  public record Decision(boolean active, double ratio, String reason) {}

  private final boolean enabled;
  private final double threshold;
  private final int minInstances;
  private final long checkIntervalMs;
  private final AtomicLong renewals = new AtomicLong();
  private long windowStart = -1;
  // Renewals per ms the instances promised when the window opened.
  private double startRate;
  private volatile double lastRatio = Double.NaN;

  /**
   * @param enabled when false, self-preservation is only ever turned off
   * @param threshold renewal ratio below which it turns on (default 0.85)
   * @param minInstances fewer registry instances than this never turn it on (default 10)
   * @param checkIntervalMs the length of a window (default 60 s); {@link #evaluate} decides only
   *     once a window this long has passed on the leader's clock
   */
  public SelfPreservation(
      boolean enabled, double threshold, int minInstances, long checkIntervalMs) {
    this.enabled = enabled;
    this.threshold = threshold;
    this.minInstances = minInstances;
    this.checkIntervalMs = checkIntervalMs;
  }

  /** Counts one renewal of a lease that {@code instances} registry instances are bound to. */
  public void renewed(int instances) {
    if (instances > 0) {
      renewals.addAndGet(instances);
    }
  }

  /** Leadership changed: what was counted says nothing about the new term; skip a window. */
  public synchronized void restart() {
    windowStart = -1;
    renewals.set(0);
    lastRatio = Double.NaN;
  }

  /**
   * Closes the current window and decides, once it is at least the check interval long; call it
   * more often than that.
   *
   * @param nowMs the leader's monotonic time in ms (windows must not stretch with wall-clock steps)
   * @param instances registry instances in the shard now
   * @param expectedRenewals renewals the instances promised over a window of the given length
   * @param active whether self-preservation is on now (committed state)
   * @return the change to commit, or empty to leave it as it is
   */
  public synchronized Optional<Decision> evaluate(
      long nowMs, long instances, LongToDoubleFunction expectedRenewals, boolean active) {
    if (windowStart < 0) {
      renewals.set(0);
      windowStart = nowMs;
      startRate = expectedRenewals.applyAsDouble(checkIntervalMs) / checkIntervalMs;
      return Optional.empty();
    }
    long window = nowMs - windowStart;
    if (window < checkIntervalMs) {
      return Optional.empty(); // The window is still open: keep counting into it.
    }
    long counted = renewals.getAndSet(0);
    windowStart = nowMs;
    // The lower of the promised rates at the window's start and end: instances registered during
    // the window were not due for all of it, and evicted ones no longer are.
    double nowRate = expectedRenewals.applyAsDouble(window) / window;
    double rate = Math.min(startRate, nowRate);
    startRate = nowRate;
    if (!enabled) {
      return active
          ? Optional.of(new Decision(false, Double.NaN, "self-preservation is off in the config"))
          : Optional.empty();
    }
    if (instances < minInstances) {
      lastRatio = Double.NaN;
      return active
          ? Optional.of(
              new Decision(
                  false,
                  Double.NaN,
                  String.format(
                      "%d registry instances, fewer than min-instances %d",
                      instances, minInstances)))
          : Optional.empty();
    }
    double expected = rate * window;
    if (expected <= 0) {
      return Optional.empty();
    }
    double ratio = counted / expected;
    lastRatio = ratio;
    boolean below = ratio < threshold;
    if (below == active) {
      return Optional.empty();
    }
    return Optional.of(
        new Decision(
            below,
            ratio,
            String.format(
                "renewal ratio %.2f %s threshold %.2f: %d renewals of %.0f expected from %d"
                    + " instances in %d ms",
                ratio, below ? "<" : ">=", threshold, counted, expected, instances, window)));
  }

  /** The ratio of the last full window this leader evaluated; NaN if none. */
  public double lastRatio() {
    return lastRatio;
  }
}
