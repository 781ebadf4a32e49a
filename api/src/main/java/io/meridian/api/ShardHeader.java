package io.meridian.api;

/**
 * The request header that names the shard a call is for: {@code meridian-shard: 3}. A node that
 * hosts several shards refuses a call without it (INVALID_ARGUMENT, listing its shards); a node
 * with one shard serves it. A router needs it only for per-shard calls that carry no key
 * (compaction, snapshots, status). Lease calls never need it: a lease id names its shard ({@link
 * LeaseId#shardOf}).
 */
public final class ShardHeader {
  private ShardHeader() {}

  /** The header's name. */
  public static final String NAME = "meridian-shard";

  /**
   * The shard a header value names.
   *
   * @throws MeridianException INVALID_ARGUMENT unless {@code value} is a shard number 0..{@link
   *     LeaseId#MAX_SHARD}
   */
  public static int parse(String value) {
    try {
      int shard = Integer.parseInt(value.trim());
      if (shard >= 0 && shard <= LeaseId.MAX_SHARD) {
        return shard;
      }
    } catch (NumberFormatException e) {
      // Refused below, with the same message as a number out of range.
    }
    throw MeridianException.of(
        io.meridian.api.v1.Error.Code.INVALID_ARGUMENT,
        "%s: %s (expected: a shard number 0..%d)",
        NAME,
        value,
        LeaseId.MAX_SHARD);
  }
}
