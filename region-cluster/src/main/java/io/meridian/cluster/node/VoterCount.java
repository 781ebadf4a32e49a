package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.function.IntSupplier;

/**
 * How many voters a removal may leave. A Raft cluster runs 3, 5 or 7 voters: an even count survives
 * no more failures than the odd count below it and needs a larger quorum, and 1 or 2 voters survive
 * no failure. So a removal that leaves fewer than 3 voters or an even number is refused, as is one
 * that leaves fewer voters answering the leader than a quorum of those left (the change itself
 * could not commit), unless forced. The last voter can never go.
 */
final class VoterCount {
  private VoterCount() {}

  /**
   * Refuses, with FAILED_PRECONDITION naming the reason, removing voter {@code id} of {@code shard}
   * when it leaves {@code left} voters of which {@code answeringLeft} answer the leader.
   */
  static void check(
      String id, int shard, String region, int left, IntSupplier answeringLeft, boolean force) {
    int n = left;
    if (n == 0) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s is the only voter of shard %d in %s: a shard needs one (force cannot remove it)",
          id,
          shard,
          region);
    }
    if (force) {
      return;
    }
    if (n < 3) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "removing voter %s would leave %d voter%s in shard %d in %s: a cluster of 1 or 2 voters"
              + " survives no failure (run 3, 5 or 7); add and promote a member first, or force"
              + " the removal",
          id,
          n,
          n == 1 ? "" : "s",
          shard,
          region);
    }
    if (n % 2 == 0) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "removing voter %s would leave %d voters in shard %d in %s: an even count survives no"
              + " more failures than %d and needs a larger quorum (run 3, 5 or 7); force the"
              + " removal if another follows (5 to 3: the first of the two)",
          id,
          n,
          shard,
          region,
          n - 1);
    }
    int answering = answeringLeft.getAsInt();
    int quorum = n / 2 + 1;
    if (answering < quorum) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "removing voter %s would leave %d voters in shard %d in %s of which %d answer the"
              + " leader, fewer than their quorum of %d: the change could not commit; bring the"
              + " others back first, or force the removal",
          id,
          n,
          shard,
          region,
          answering,
          quorum);
    }
  }
}
