package io.meridian.cluster;

/**
 * The one source of wall-clock time in the node. The state machine never reads it: the leader
 * stamps time into commands. Tests inject their own.
 */
@FunctionalInterface
public interface WallClock {
  /** Milliseconds since the Unix epoch. */
  long nowMillis();

  /** The system clock. */
  static WallClock system() {
    return System::currentTimeMillis;
  }
}
