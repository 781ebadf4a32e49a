package io.meridian.cluster.internal;

import java.util.ArrayList;
import java.util.List;

/** The writes of one command, all at one revision: the shard's revision + 1. */
public final class Batch {
  public final long revision;
  public final List<Change> changes = new ArrayList<>();
  public final List<LockEvent> lockEvents = new ArrayList<>();
  public final List<LeaseEvent> leaseEvents = new ArrayList<>();

  public Batch(long revision) {
    this.revision = revision;
  }

  /**
   * Whether the command changed client-visible state, so the revision moves to {@link #revision}.
   */
  public boolean wrote() {
    return !changes.isEmpty();
  }
}
