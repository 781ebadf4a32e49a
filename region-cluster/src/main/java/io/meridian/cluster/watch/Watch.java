package io.meridian.cluster.watch;

import io.meridian.cluster.kv.KeyRange;

/**
 * One watch of a {@link WatchStream}: its range, options and how far it got. Its progress fields
 * belong to the {@link WatchHub} dispatcher thread.
 */
final class Watch {
  final long id;
  final WatchStream stream;
  final KeyRange range;
  final boolean prevKv;
  final boolean progressNotify;

  /** The next revision to deliver. */
  long next;

  /** Receives live revisions; false while it replays history. */
  boolean synced;

  /** Delivered events since the last progress tick. */
  boolean active;

  volatile boolean ended;

  /**
   * The caller's epoch at revision {@code next - 1}, still to be checked against this member's
   * history once it has applied that revision; 0 when checked already or nothing to check.
   */
  long uncheckedEpoch;

  Watch(
      long id,
      WatchStream stream,
      KeyRange range,
      boolean prevKv,
      boolean progressNotify,
      long next,
      long uncheckedEpoch) {
    this.id = id;
    this.stream = stream;
    this.range = range;
    this.prevKv = prevKv;
    this.progressNotify = progressNotify;
    this.next = next;
    this.uncheckedEpoch = uncheckedEpoch;
  }
}
