package io.meridian.testing;

import io.meridian.cluster.internal.NodeClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock a test moves by hand: wall and monotonic time both stand still until {@link #advance};
 * {@link #stepWall} moves only the wall clock, as NTP or an operator would, which must neither
 * expire nor extend a deadline kept on the monotonic clock. Safe to read from any thread.
 */
public final class ManualClock implements NodeClock {
  private final AtomicLong wallMs;
  private final AtomicLong monotonicMs = new AtomicLong();

  /** A clock whose wall time starts at {@code startMs} since the epoch. */
  public ManualClock(long startMs) {
    this.wallMs = new AtomicLong(startMs);
  }

  @Override
  public long nowMillis() {
    return wallMs.get();
  }

  @Override
  public long monotonicMillis() {
    return monotonicMs.get();
  }

  /** Moves both clocks forward by {@code by}. */
  public void advance(Duration by) {
    if (by.isNegative()) {
      throw new IllegalArgumentException(
          "by: " + by + " (expected: >= 0; use stepWall to go back)");
    }
    wallMs.addAndGet(by.toMillis());
    monotonicMs.addAndGet(by.toMillis());
  }

  /** Moves the wall clock alone, forward or back; the monotonic clock does not move. */
  public void stepWall(Duration by) {
    wallMs.addAndGet(by.toMillis());
  }
}
