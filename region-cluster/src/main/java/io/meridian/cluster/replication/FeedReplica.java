package io.meridian.cluster.replication;

import io.meridian.api.v1.ReplicationState;
import io.meridian.cluster.internal.Replica;

/** A shard's replica as the replication service sees it: it also streams its change batches. */
public interface FeedReplica extends Replica {
  /** The committed change batches of this shard, for the bridge's source. */
  ChangeFeed changeFeed();

  /** Where replication of this shard stands, from the applied state. */
  ReplicationState replicationState();
}
