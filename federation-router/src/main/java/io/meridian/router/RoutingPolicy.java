package io.meridian.router;

import com.google.protobuf.Message;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import io.meridian.serving.Headers;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Which region cluster of a shard a call goes to, and what a read does with each region's outcome.
 * It decides only: no I/O and no clock (the caller says whether its deadline has passed).
 *
 * <ul>
 *   <li>Writes, leases, locks and reads of any other consistency go to the shard's PRIMARY region.
 *   <li>{@code LOCAL} and {@code CACHED} reads try the router's own region, then the regions of
 *       {@code preference}, then the rest in the table's order; never a FENCED region.
 *   <li>A region that fails with unavailability ({@link #REGION_DOWN}) or answers beyond the
 *       namespace's staleness limit is passed over for the next, while there is one and the
 *       deadline has not passed; every region but the last is given at most {@code
 *       reads.region-timeout-ms}.
 *   <li>When no region answered fresh enough, a FAIL_OPEN namespace gets the freshest answer seen;
 *       a FAIL_CLOSED one is refused.
 * </ul>
 */
final class RoutingPolicy {
  /** Failures after which a read tries the next region, and that count against a breaker. */
  static final Set<Error.Code> REGION_DOWN =
      Set.of(Error.Code.UNAVAILABLE, Error.Code.DEADLINE_EXCEEDED, Error.Code.NOT_INITIALIZED);

  /** What a read does after one region's outcome. */
  enum Step {
    /** Try the next region in the order. */
    FALL_BACK,
    /** Answer with the freshest answer seen (see {@link #kept} and {@link #chosen}). */
    ANSWER,
    /** Fail with this region's failure. */
    FAIL,
    /** Fail with {@code UNAVAILABLE}: every answer was beyond the staleness limit. */
    REFUSE_STALE
  }

  private final String region;
  private final List<String> preference;

  /** {@code region}: the router's own; {@code preference}: the other regions, nearest first. */
  RoutingPolicy(String region, List<String> preference) {
    this.region = region;
    this.preference = List.copyOf(preference);
  }

  /** Whether a read of {@code consistency} is served local-first (else at the primary). */
  static boolean localFirst(Consistency consistency) {
    return consistency == Consistency.LOCAL || consistency == Consistency.CACHED;
  }

  /** The regions a call of {@code consistency} tries, in order; empty if every one is FENCED. */
  List<RoutingTable.Region> regions(RoutingTable.Shard shard, Consistency consistency) {
    return localFirst(consistency) ? readOrder(shard) : List.of(shard.primary());
  }

  /** The regions a LOCAL read tries: own region, then preference, then table order; no FENCED. */
  List<RoutingTable.Region> readOrder(RoutingTable.Shard shard) {
    List<RoutingTable.Region> order = new ArrayList<>();
    shard.region(region).ifPresent(order::add);
    for (String name : preference) {
      shard.region(name).filter(r -> !order.contains(r)).ifPresent(order::add);
    }
    for (RoutingTable.Region r : shard.regions()) {
      if (!order.contains(r)) {
        order.add(r);
      }
    }
    order.removeIf(r -> r.role() == Role.FENCED);
    return order;
  }

  /**
   * Whether the attempt at {@code index} of {@code order} is bounded by the region timeout: all but
   * the last, which has what is left of the request's deadline.
   */
  static boolean boundedByRegionTimeout(List<RoutingTable.Region> order, int index) {
    return index < order.size() - 1;
  }

  /**
   * After the region at {@code index} failed with {@code code}: the next region if this one is down
   * and there is time and another region; else the stale answer kept, for a fail-open namespace;
   * else the failure.
   */
  static Step afterFailure(
      List<RoutingTable.Region> order,
      int index,
      Error.Code code,
      boolean deadlineExpired,
      boolean staleAnswerKept,
      RouterConfig.Policy policy) {
    boolean last = index == order.size() - 1;
    if (!last && REGION_DOWN.contains(code) && !deadlineExpired) {
      return Step.FALL_BACK;
    }
    return staleAnswerKept && policy.failOpen() ? Step.ANSWER : Step.FAIL;
  }

  /**
   * After the region at {@code index} answered with {@code lag}: the answer if it is within the
   * namespace's limits; else the next region while there is time and another region; else, for a
   * fail-open namespace, the freshest answer seen, and for a fail-closed one a refusal.
   */
  static Step afterAnswer(
      List<RoutingTable.Region> order,
      int index,
      PrimaryProgress.Lag lag,
      boolean deadlineExpired,
      RouterConfig.Policy policy) {
    boolean last = index == order.size() - 1;
    boolean stale = lag.exceeds(policy.maxStalenessRevisions(), policy.maxStalenessMs());
    if (stale && !last && !deadlineExpired) {
      return Step.FALL_BACK;
    }
    return stale && !policy.failOpen() ? Step.REFUSE_STALE : Step.ANSWER;
  }

  /**
   * The stale answer a read keeps while it falls back: the one at the higher revision, the earlier
   * (nearer region's) on a tie. {@code kept} may be null.
   */
  static <R extends Message> R kept(R kept, R answer) {
    return kept == null || isFresher(answer, kept) ? answer : kept;
  }

  /**
   * The answer a read ends with: the one at the higher revision, the last region's on a tie. {@code
   * kept} may be null.
   */
  static <R extends Message> R chosen(R kept, R answer) {
    return kept != null && isFresher(kept, answer) ? kept : answer;
  }

  private static boolean isFresher(Message a, Message b) {
    return Headers.of(a).getRevision() > Headers.of(b).getRevision();
  }
}
