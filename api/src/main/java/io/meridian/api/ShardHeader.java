package io.meridian.api;

/**
 * The request header that names the shard a call is for: {@code meridian-shard: 3}. A node that
 * hosts several shards serves a call without it from its lowest-numbered shard; a router needs it
 * only for per-shard calls that carry no key (compaction, snapshots, status). Lease calls never
 * need it: a lease id names its shard ({@link LeaseId#shardOf}).
 */
public final class ShardHeader {
  private ShardHeader() {}

  /** The header's name. */
  public static final String NAME = "meridian-shard";
}
