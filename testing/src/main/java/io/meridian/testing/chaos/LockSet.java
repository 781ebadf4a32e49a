package io.meridian.testing.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks the holds of one exclusive lock and the writes its holders fenced with their tokens:
 *
 * <ul>
 *   <li>every grant has its own token, and a grant asked for after another was granted (real time)
 *       has the larger token; a lease that acquires the lock it still holds is answered the same
 *       grant, which is one hold, not two;
 *   <li>no two holds overlap while both are valid: a hold is valid, as its holder sees it, from the
 *       grant's answer until it releases or its lease may have run out (its last acknowledged
 *       renewal was sent a TTL ago), whichever is first;
 *   <li>no fenced write is accepted with a token smaller than one already granted (acknowledged to
 *       its holder) before the write was sent.
 * </ul>
 */
public final class LockSet {
  /**
   * A grant and how long its holder could count on it.
   *
   * @param client the holder
   * @param lease the lease it held the lock on: acquiring again on a lease that still holds the
   *     lock (a release whose answer was lost) answers the same grant, token and all
   * @param token the fencing token it was given
   * @param invoked when the acquire was sent (nanoseconds, the history's clock)
   * @param granted when its answer came
   * @param validUntil when the holder released it or its lease may have ended, whichever is first
   */
  public record Hold(
      int client, long lease, long token, long invoked, long granted, long validUntil) {
    @Override
    public String toString() {
      return String.format(
          "client %d lease %d token %d acquire [%d, %d] valid until %d",
          client, lease, token, invoked, granted, validUntil);
    }

    /** The same grant as {@code other}, answered again to the lease that still holds it. */
    boolean sameGrant(Hold other) {
      return lease == other.lease && token == other.token;
    }
  }

  /**
   * A write compared on the lock's token.
   *
   * @param client who sent it
   * @param token the token it was fenced with
   * @param invoked when it was sent
   * @param accepted whether the comparison held and the write was applied
   */
  public record FencedWrite(int client, long token, long invoked, boolean accepted) {
    @Override
    public String toString() {
      return String.format(
          "client %d write fenced with %d at %d %s",
          client, token, invoked, accepted ? "ACCEPTED" : "refused");
    }
  }

  private LockSet() {}

  /** Checks {@code holds} and {@code writes} of one lock. */
  public static Verdict check(List<Hold> holds, List<FencedWrite> writes) {
    List<String> problems = new ArrayList<>();
    Map<Long, Hold> byToken = new HashMap<>();
    for (Hold h : holds) {
      Hold before = byToken.putIfAbsent(h.token(), h);
      if (before != null && !before.sameGrant(h)) {
        problems.add("token " + h.token() + " granted twice: " + before + "; " + h);
      }
    }
    List<Hold> inOrder = new ArrayList<>(holds);
    inOrder.sort(Comparator.comparingLong(Hold::granted));
    for (int i = 0; i < inOrder.size(); i++) {
      Hold a = inOrder.get(i);
      for (int j = 0; j < inOrder.size(); j++) {
        Hold b = inOrder.get(j);
        if (a == b || a.sameGrant(b)) {
          continue;
        }
        if (a.granted() < b.invoked() && a.token() >= b.token()) {
          problems.add("token went back: " + a + " was granted before " + b + " was asked for");
        }
        if (j > i && a.granted() <= b.granted() && b.granted() < a.validUntil()) {
          problems.add("two valid holds at once: " + a + " and " + b);
        }
      }
    }
    for (FencedWrite w : writes) {
      if (!w.accepted()) {
        continue;
      }
      for (Hold h : holds) {
        if (h.token() > w.token() && h.granted() < w.invoked()) {
          problems.add("stale token accepted: " + w + " after " + h);
          break;
        }
      }
    }
    if (problems.isEmpty()) {
      return new Verdict(
          true, holds.size() + " holds and " + writes.size() + " fenced writes checked", List.of());
    }
    return new Verdict(
        false,
        problems.size()
            + " lock violations:\n  "
            + String.join("\n  ", problems.subList(0, Math.min(20, problems.size()))),
        List.of());
  }
}
