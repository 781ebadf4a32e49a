package io.meridian.api;

/**
 * A lock grant's fencing token: {@code epoch << 48 | revision}, 15 bits of epoch and 48 of revision
 * (178 years at 50,000 writes/s). Tokens strictly increase across lock holders, leader changes and
 * region failovers, because every failover bumps the epoch and revisions grow within an epoch.
 * Storage protected by a lock rejects a write carrying a token smaller than the largest it has
 * seen.
 */
public final class FencingToken {
  private FencingToken() {}

  public static final long MAX_EPOCH = (1L << 15) - 1;
  public static final long MAX_REVISION = (1L << 48) - 1;

  /** The token of a grant at {@code revision} in {@code epoch}. */
  public static long of(long epoch, long revision) {
    if (epoch < 0 || epoch > MAX_EPOCH) {
      throw new IllegalArgumentException("epoch: " + epoch + " (expected: 0.." + MAX_EPOCH + ")");
    }
    if (revision < 0 || revision > MAX_REVISION) {
      throw new IllegalArgumentException(
          "revision: " + revision + " (expected: 0.." + MAX_REVISION + ")");
    }
    return (epoch << 48) | revision;
  }

  public static long epochOf(long token) {
    return token >>> 48;
  }

  public static long revisionOf(long token) {
    return token & MAX_REVISION;
  }
}
