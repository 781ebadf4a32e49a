package io.meridian.cluster.node;

import java.util.ArrayDeque;

/**
 * (monotonic time, revision) samples of one replica, oldest first: how automatic compaction tells a
 * revision's age. Sampled on every member, so a new leader knows the ages from its first round.
 */
final class RevisionHistory {
  // Guarded by this.
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  synchronized void sample(long monotonicMs, long revision) {
    samples.addLast(new long[] {monotonicMs, revision});
  }

  /** Forgets every sample: the revisions were replaced (a reset from a snapshot). */
  synchronized void clear() {
    samples.clear();
  }

  /** The newest sampled revision taken at or before {@code time}, 0 if none is that old. */
  synchronized long atOrBefore(long time) {
    long found = 0;
    while (!samples.isEmpty() && samples.peekFirst()[0] <= time) {
      found = samples.pollFirst()[1];
    }
    if (found > 0) {
      // Keep it: it stays the answer until a younger sample ages past the window.
      samples.addFirst(new long[] {time, found});
    }
    return found;
  }
}
