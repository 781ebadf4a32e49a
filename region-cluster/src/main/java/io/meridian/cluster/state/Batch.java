package io.meridian.cluster.state;

import java.util.ArrayList;
import java.util.List;

/** The writes of one command, all at one revision: the shard's revision + 1. */
final class Batch {
  final long revision;
  final List<Change> changes = new ArrayList<>();
  final List<LockEvent> lockEvents = new ArrayList<>();
  final List<LeaseEvent> leaseEvents = new ArrayList<>();

  Batch(long revision) {
    this.revision = revision;
  }

  /**
   * Whether the command changed client-visible state, so the revision moves to {@link #revision}.
   */
  boolean wrote() {
    return !changes.isEmpty();
  }
}
