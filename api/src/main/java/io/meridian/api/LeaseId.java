package io.meridian.api;

import io.meridian.api.v1.Error;
import java.util.Map;

/**
 * A lease id encodes the shard that owns the lease, so a router can route lease calls:
 *
 * <pre>
 *  63  62            48 47                                              0
 * +---+----------------+-------------------------------------------------+
 * | 0 |  shard (15 b)  |            sequence within the shard (48 b)     |
 * +---+----------------+-------------------------------------------------+
 * </pre>
 *
 * Ids are positive; 0 means "no lease".
 */
public final class LeaseId {
  private LeaseId() {}

  public static final int MAX_SHARD = (1 << 15) - 1;
  public static final long MAX_SEQUENCE = (1L << 48) - 1;

  /** The id of the {@code sequence}-th lease of {@code shard}. */
  public static long of(int shard, long sequence) {
    if (shard < 0 || shard > MAX_SHARD) {
      throw new IllegalArgumentException("shard: " + shard + " (expected: 0.." + MAX_SHARD + ")");
    }
    if (sequence < 1 || sequence > MAX_SEQUENCE) {
      throw new IllegalArgumentException(
          "sequence: " + sequence + " (expected: 1.." + MAX_SEQUENCE + ")");
    }
    return ((long) shard << 48) | sequence;
  }

  /**
   * The shard that owns lease {@code id}, as a request names it.
   *
   * @throws MeridianException INVALID_ARGUMENT for an id no grant returns (zero or negative)
   */
  public static int shardOfRequested(long id) {
    if (id <= 0) {
      throw MeridianException.of(
          io.meridian.api.v1.Error.Code.INVALID_ARGUMENT,
          "lease: %d (expected: a positive id from Grant)",
          id);
    }
    return shardOf(id);
  }

  /**
   * The refusal of lease {@code id} where no live lease has that id: every call that names a lease
   * (lease, key, lock and registry calls) says it in these words.
   */
  public static MeridianException notFound(long id) {
    return new MeridianException(
        Error.Code.LEASE_NOT_FOUND,
        "lease " + id + " not found (expired, revoked or never granted)",
        Map.of("lease", Long.toString(id)));
  }

  /** The shard that owns lease {@code id}. */
  public static int shardOf(long id) {
    return (int) (id >>> 48);
  }

  /** The sequence part of {@code id}. */
  public static long sequenceOf(long id) {
    return id & MAX_SEQUENCE;
  }

  /** Checks that {@code id} is a lease id of {@code shard}. */
  public static void check(long id, int shard) {
    if (id <= 0 || shardOf(id) != shard || sequenceOf(id) == 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lease: %d (expected: a positive id of shard %d, as returned by Grant)",
          id,
          shard);
    }
  }
}
