package io.meridian.cluster.watch;

import io.meridian.cluster.internal.Replica;

/** A shard's replica as the watch and registry services see it: it also feeds watches. */
public interface WatchReplica extends Replica {
  /** The watches of this shard served by this node. */
  WatchHub watchHub();
}
