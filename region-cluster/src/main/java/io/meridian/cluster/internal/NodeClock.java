package io.meridian.cluster.internal;

/**
 * The one source of time in the node. The state machine never reads it: the leader stamps wall time
 * into commands. Deadlines a process keeps in memory (a leader's lease deadlines) run on the
 * monotonic clock, so a step of the wall clock (NTP, an operator) neither expires nor extends them.
 * Tests inject their own.
 */
@FunctionalInterface
public interface NodeClock {
  /** Wall-clock milliseconds since the Unix epoch: what is stamped into commands. */
  long nowMillis();

  /**
   * Monotonic milliseconds from an arbitrary origin, for deadlines kept in memory: they only grow,
   * whatever the wall clock does.
   */
  default long monotonicMillis() {
    return System.nanoTime() / 1_000_000;
  }

  /** The system clock. */
  static NodeClock system() {
    return System::currentTimeMillis;
  }
}
