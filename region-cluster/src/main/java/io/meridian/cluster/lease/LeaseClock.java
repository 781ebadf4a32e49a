package io.meridian.cluster.lease;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * The leader's view of when each lease runs out. Keep-alives renew it in memory (no Raft write per
 * renewal); the leader proposes an expiry for every lease whose deadline passed.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li><b>Only a leader of the current term keeps deadlines.</b> The lifecycle is guarded by the
 *       term: {@link #lead} when Raft makes this member leader, {@link #start} once the term's
 *       {@code LeaderStart} is applied (a start for any other term is refused), {@link #follow}
 *       when leadership is lost. All three run under this object's monitor, so a start on the apply
 *       thread can never resurrect a clock that {@link #follow} stopped on another thread.
 *   <li><b>A leader change neither mass-expires sessions nor keeps long leases alive forever:</b> a
 *       new term sets every deadline to now + (checkpointed remainder, else TTL) + the election
 *       timeout; a promotion ({@link #extendAll}) gives every lease its full TTL from now.
 *   <li><b>An expired lease stays expired.</b> A renewal that arrives after the deadline is refused
 *       (as etcd's lessor does): the leader may already have proposed the expiry.
 *   <li><b>Monotonic.</b> Deadlines are monotonic milliseconds, so a step of the wall clock neither
 *       expires nor extends a lease.
 * </ul>
 */
public final class LeaseClock {
  private final long electionTimeoutMs;
  private final LongSupplier monotonicMillis;

  // Guarded by this.
  private final Map<Long, Entry> deadlines = new HashMap<>();
  private long leaderTerm = -1;
  private boolean ready;

  private record Entry(long ttlMs, long deadlineMs) {}

  /**
   * @param electionTimeoutMs the longest election timeout, added to every deadline a new term takes
   *     over
   * @param monotonicMillis a monotonic clock in milliseconds
   */
  public LeaseClock(long electionTimeoutMs, LongSupplier monotonicMillis) {
    this.electionTimeoutMs = electionTimeoutMs;
    this.monotonicMillis = monotonicMillis;
  }

  /** Raft made this member leader of {@code term}: deadlines wait for {@link #start}. */
  public synchronized void lead(long term) {
    leaderTerm = term;
    ready = false;
    deadlines.clear();
  }

  /** Leadership was lost: forget every deadline. */
  public synchronized void follow() {
    leaderTerm = -1;
    ready = false;
    deadlines.clear();
  }

  /**
   * Takes over the leases of {@code term}, once its {@code LeaderStart} is applied: every deadline
   * is now + (checkpointed remainder, else TTL) + the election timeout.
   *
   * @return false, changing nothing, if this member does not lead {@code term} (any more)
   */
  public synchronized boolean start(long term, Collection<LeaseView> leases) {
    if (term != leaderTerm || term < 0) {
      return false;
    }
    long now = monotonicMillis.getAsLong();
    deadlines.clear();
    for (LeaseView lease : leases) {
      long base = lease.remainingMs() > 0 ? lease.remainingMs() : lease.ttlMs();
      deadlines.put(lease.id(), new Entry(lease.ttlMs(), now + base + electionTimeoutMs));
    }
    ready = true;
    return true;
  }

  /** A promotion: every lease gets its full TTL from now. A no-op unless {@link #ready()}. */
  public synchronized void extendAll(Collection<LeaseView> leases) {
    if (!ready) {
      return;
    }
    long now = monotonicMillis.getAsLong();
    deadlines.clear();
    for (LeaseView lease : leases) {
      deadlines.put(lease.id(), new Entry(lease.ttlMs(), now + lease.ttlMs()));
    }
  }

  /** Whether this member leads and has taken over the leases of its term. */
  public synchronized boolean ready() {
    return ready;
  }

  /** The term whose leases this clock keeps, or -1 when it keeps none (not {@link #ready()}). */
  public synchronized long term() {
    return ready ? leaderTerm : -1;
  }

  /** A lease was granted (applied): its deadline is now + TTL. */
  public synchronized void granted(long id, long ttlMs) {
    if (ready) {
      deadlines.put(id, new Entry(ttlMs, monotonicMillis.getAsLong() + ttlMs));
    }
  }

  /** A lease ended (applied). */
  public synchronized void ended(long id) {
    deadlines.remove(id);
  }

  /**
   * Renews {@code id} to now + TTL; returns its TTL, or empty if the lease is unknown or its
   * deadline passed ({@code evenIfExpired} renews a lease past its deadline: one that
   * self-preservation keeps from expiring).
   */
  public synchronized OptionalLong renew(long id, boolean evenIfExpired) {
    Entry e = deadlines.get(id);
    long now = monotonicMillis.getAsLong();
    if (e == null || (e.deadlineMs <= now && !evenIfExpired)) {
      return OptionalLong.empty();
    }
    deadlines.put(id, new Entry(e.ttlMs, now + e.ttlMs));
    return OptionalLong.of(e.ttlMs);
  }

  /** Remaining milliseconds of {@code id} (0 once its deadline passed), or empty if unknown. */
  public synchronized OptionalLong remaining(long id) {
    Entry e = deadlines.get(id);
    return e == null
        ? OptionalLong.empty()
        : OptionalLong.of(Math.max(0, e.deadlineMs - monotonicMillis.getAsLong()));
  }

  /** Leases whose deadline passed. */
  public synchronized List<Long> expired() {
    long now = monotonicMillis.getAsLong();
    List<Long> out = new ArrayList<>();
    deadlines.forEach(
        (id, e) -> {
          if (e.deadlineMs <= now) {
            out.add(id);
          }
        });
    return out;
  }

  /** Remaining time of every lease by id (at least 1 ms: 0 means "never checkpointed"). */
  public synchronized Map<Long, Long> remainingAll() {
    long now = monotonicMillis.getAsLong();
    Map<Long, Long> out = new TreeMap<>();
    deadlines.forEach((id, e) -> out.put(id, Math.max(1, e.deadlineMs - now)));
    return out;
  }

  public synchronized int size() {
    return deadlines.size();
  }
}
