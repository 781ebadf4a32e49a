package io.meridian.cluster.lease;

import io.meridian.cluster.state.LeaseView;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The leader's view of when each lease runs out. Keep-alives renew it in memory (no Raft write per
 * renewal); the leader proposes an expiry for every lease whose deadline passed.
 *
 * <p>When a node becomes leader it sets every deadline to now + (checkpointed remainder, else TTL)
 * + the election timeout before expiring any: a leader change neither mass-expires sessions nor
 * keeps long leases alive forever. A follower keeps no deadlines.
 */
public final class LeaseClock {
  private final long electionTimeoutMs;
  private final Map<Long, Entry> deadlines = new ConcurrentHashMap<>();
  private volatile boolean ready;

  private record Entry(long ttlMs, long deadlineMs) {}

  public LeaseClock(long electionTimeoutMs) {
    this.electionTimeoutMs = electionTimeoutMs;
  }

  /** Takes over the leases of a new term. */
  public synchronized void start(Collection<LeaseView> leases, long nowMs) {
    deadlines.clear();
    for (LeaseView lease : leases) {
      long base = lease.remainingMs() > 0 ? lease.remainingMs() : lease.ttlMs();
      deadlines.put(lease.id(), new Entry(lease.ttlMs(), nowMs + base + electionTimeoutMs));
    }
    ready = true;
  }

  /** Leadership was lost: forget every deadline. */
  public synchronized void stop() {
    ready = false;
    deadlines.clear();
  }

  /** Whether this node leads and has taken over the leases of its term. */
  public boolean ready() {
    return ready;
  }

  public void granted(long id, long ttlMs, long nowMs) {
    if (ready) {
      deadlines.put(id, new Entry(ttlMs, nowMs + ttlMs));
    }
  }

  public void ended(long id) {
    deadlines.remove(id);
  }

  /** Renews {@code id}; returns its TTL, or empty if the lease is unknown. */
  public OptionalLong renew(long id, long nowMs) {
    Entry renewed = deadlines.computeIfPresent(id, (k, e) -> new Entry(e.ttlMs, nowMs + e.ttlMs));
    return renewed == null ? OptionalLong.empty() : OptionalLong.of(renewed.ttlMs);
  }

  /** Remaining milliseconds of {@code id}, or empty if unknown. */
  public OptionalLong remaining(long id, long nowMs) {
    Entry e = deadlines.get(id);
    return e == null ? OptionalLong.empty() : OptionalLong.of(Math.max(0, e.deadlineMs - nowMs));
  }

  /** Leases whose deadline passed. */
  public List<Long> expired(long nowMs) {
    List<Long> out = new ArrayList<>();
    deadlines.forEach(
        (id, e) -> {
          if (e.deadlineMs <= nowMs) {
            out.add(id);
          }
        });
    return out;
  }

  /** Remaining time of every lease, for a checkpoint. */
  public Map<Long, Long> remainingAll(long nowMs) {
    Map<Long, Long> out = new java.util.TreeMap<>();
    deadlines.forEach((id, e) -> out.put(id, Math.max(1, e.deadlineMs - nowMs)));
    return out;
  }

  public int size() {
    return deadlines.size();
  }
}
