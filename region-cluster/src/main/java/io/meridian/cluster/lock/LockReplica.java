package io.meridian.cluster.lock;

import io.meridian.cluster.internal.Replica;

/** A shard's replica as the lock service sees it: it also answers waiting acquires. */
public interface LockReplica extends Replica {
  /** The acquires waiting on this replica for a grant, a removal or their deadline. */
  LockWaits lockWaits();
}
