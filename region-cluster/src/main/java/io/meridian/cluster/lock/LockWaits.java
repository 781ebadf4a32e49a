package io.meridian.cluster.lock;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.internal.LockEvent;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Callers waiting on this node for a lock grant.
 *
 * <p>A wait is registered before its acquire is proposed, so a grant applied on this node before
 * the proposal's reply arrives is never missed; it is armed with the revision of its acquire once
 * the reply arrives, and only events at or after that revision decide it. Events of an earlier
 * acquire by the same lease (a release this node applies late, say) are therefore ignored. Every
 * replica applies every grant, so a follower completes its own callers' waits.
 *
 * <p>Events alone can miss a decision: a retried acquire gets the first attempt's "waiting" answer
 * while the grant was applied here before it registered; a follower that installs a snapshot skips
 * the events it replaces. So a wait also reads the applied state once this replica has applied its
 * acquire's revision, and again after every state reload. When the caller's timeout passes, the
 * node proposes the waiter's cancellation and, once it is applied, the applied state has the last
 * word: a waiter that was granted meanwhile is answered with its grant, never left holding a lock
 * its caller was told it did not get.
 */
public final class LockWaits {
  /** A grant: the fencing token, the holder's key and the revision of the grant. */
  public record Grant(long token, String key, long revision) {}

  /** Reads where a lease's wait for a lock stands in the applied state. */
  @FunctionalInterface
  public interface Lookup {
    LockWaiterState find(String name, long lease);
  }

  private record WaiterKey(String name, long lease) {}

  /** A state check of {@code waiter} due once this replica has applied {@code revision}. */
  private record Check(Wait waiter, long revision, boolean last) {}

  private final Lookup lookup;

  // Guarded by this: the revision this replica has applied, and checks waiting for a later one.
  private long applied;
  private final List<Check> checks = new ArrayList<>();

  /** One caller's wait. */
  public final class Wait {
    private final WaiterKey key;
    private final CompletableFuture<Grant> future = new CompletableFuture<>();
    // Guarded by this.
    private long fromRevision = Long.MAX_VALUE;
    private final List<LockEvent> early = new ArrayList<>();

    private Wait(WaiterKey key) {
      this.key = key;
    }

    public CompletableFuture<Grant> future() {
      return future;
    }

    /**
     * Only events at or after {@code revision} (the acquire's own) decide this wait; the applied
     * state is read once this replica has applied {@code revision}.
     */
    public void arm(long revision) {
      List<LockEvent> seen;
      synchronized (this) {
        fromRevision = revision;
        seen = new ArrayList<>(early);
        early.clear();
      }
      seen.forEach(this::offer);
      checkAt(new Check(this, revision, false));
    }

    /**
     * The caller's timeout passed and the waiter's cancellation was applied at {@code revision}:
     * once this replica has applied it, the wait ends with the grant if the lease holds the lock
     * (it was granted before the cancellation), else with LOCK_TIMEOUT.
     */
    public void settle(long revision) {
      checkAt(new Check(this, revision, true));
    }

    /**
     * The caller's timeout passed and the cancellation could not be proposed: the wait ends now,
     * with the grant if the lease holds the lock, UNAVAILABLE if it still waits (the leader's sweep
     * removes it once its deadline passes), else LOCK_TIMEOUT.
     */
    public void settleNow() {
      decide(lookup.find(key.name, key.lease), true, true);
    }

    /**
     * Stops waiting (the acquire was answered without waiting, or failed); a no-op if already
     * decided. The future completes with null: nobody reads it any more, and a cancellation would
     * build an exception with its stack trace on every granted acquire.
     */
    public void cancel() {
      future.complete(null);
    }

    private synchronized boolean armed() {
      return fromRevision != Long.MAX_VALUE;
    }

    private void offer(LockEvent event) {
      synchronized (this) {
        if (fromRevision == Long.MAX_VALUE) {
          early.add(event);
          return;
        }
        if (revisionOf(event) < fromRevision) {
          return;
        }
      }
      if (event instanceof LockEvent.Granted g) {
        future.complete(new Grant(g.token(), g.key(), g.revision()));
      } else if (event instanceof LockEvent.Removed r) {
        future.completeExceptionally(failure(r));
      }
    }

    private void decide(LockWaiterState state, boolean last, boolean cancelFailed) {
      if (future.isDone()) {
        return;
      }
      if (state instanceof LockWaiterState.Held h) {
        future.complete(new Grant(h.token(), h.key(), h.grantRevision()));
      } else if (state instanceof LockWaiterState.Gone g) {
        future.completeExceptionally(
            g.leaseExists()
                ? MeridianException.of(
                    Error.Code.LOCK_TIMEOUT,
                    "lock %s: lease %d no longer waits for it (cancelled at its deadline, or"
                        + " withdrawn by a release)",
                    key.name,
                    key.lease)
                : MeridianException.of(
                    Error.Code.LEASE_NOT_FOUND,
                    "lock %s: lease %d ended while waiting",
                    key.name,
                    key.lease));
      } else if (last) {
        future.completeExceptionally(
            cancelFailed
                ? MeridianException.of(
                    Error.Code.UNAVAILABLE,
                    "lock %s: not granted to lease %d before the deadline, and the wait could not"
                        + " be withdrawn (no leader?): retry the acquire (it is idempotent) or"
                        + " release",
                    key.name,
                    key.lease)
                : MeridianException.of(
                    Error.Code.LOCK_TIMEOUT,
                    "lock %s: not granted to lease %d before the deadline",
                    key.name,
                    key.lease));
      }
    }
  }

  private final Map<WaiterKey, CopyOnWriteArrayList<Wait>> waits = new ConcurrentHashMap<>();

  /**
   * @param lookup reads the applied state
   * @param appliedRevision the revision this replica has applied now
   */
  public LockWaits(Lookup lookup, long appliedRevision) {
    this.lookup = lookup;
    this.applied = appliedRevision;
  }

  /** Registers a wait for (name, lease); call before proposing the acquire. */
  public Wait register(String name, long lease) {
    WaiterKey key = new WaiterKey(name, lease);
    Wait wait = new Wait(key);
    waits.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(wait);
    wait.future.whenComplete((g, t) -> forget(wait));
    return wait;
  }

  private void forget(Wait wait) {
    waits.computeIfPresent(
        wait.key,
        (k, list) -> {
          list.remove(wait);
          return list.isEmpty() ? null : list;
        });
  }

  /** Offers a committed lock event to the waits it concerns. Called on the apply thread. */
  public void onEvent(LockEvent event) {
    WaiterKey key =
        event instanceof LockEvent.Granted g
            ? new WaiterKey(g.name(), g.lease())
            : new WaiterKey(
                ((LockEvent.Removed) event).name(), ((LockEvent.Removed) event).lease());
    List<Wait> list = waits.get(key);
    if (list != null) {
      list.forEach(w -> w.offer(event));
    }
  }

  /**
   * This replica has applied up to {@code revision} (after offering that command's events): runs
   * the state checks that waited for it. Called on the apply thread.
   */
  public void applied(long revision) {
    List<Check> due = new ArrayList<>();
    synchronized (this) {
      applied = revision;
      for (Iterator<Check> it = checks.iterator(); it.hasNext(); ) {
        Check c = it.next();
        if (c.revision <= revision) {
          due.add(c);
          it.remove();
        }
      }
    }
    due.forEach(this::run);
  }

  /**
   * The state was replaced (a snapshot installed from the leader) at {@code revision}: events in
   * between were never offered, so every armed wait reads the new state.
   */
  public void reloaded(long revision) {
    applied(revision);
    for (List<Wait> list : waits.values()) {
      for (Wait w : list) {
        if (w.armed()) {
          w.decide(lookup.find(w.key.name, w.key.lease), false, false);
        }
      }
    }
  }

  private void checkAt(Check check) {
    synchronized (this) {
      if (applied < check.revision) {
        checks.add(check);
        return;
      }
    }
    run(check);
  }

  private void run(Check check) {
    Wait w = check.waiter;
    if (!w.future.isDone()) {
      w.decide(lookup.find(w.key.name, w.key.lease), check.last, false);
    }
  }

  private static long revisionOf(LockEvent event) {
    return event instanceof LockEvent.Granted g
        ? g.revision()
        : ((LockEvent.Removed) event).revision();
  }

  private static MeridianException failure(LockEvent.Removed r) {
    return switch (r.reason()) {
      case CANCELLED ->
          MeridianException.of(
              Error.Code.LOCK_TIMEOUT,
              "lock %s: not granted to lease %d before the deadline",
              r.name(),
              r.lease());
      case LEASE_ENDED ->
          MeridianException.of(
              Error.Code.LEASE_NOT_FOUND,
              "lock %s: lease %d ended while waiting",
              r.name(),
              r.lease());
      case RELEASED ->
          MeridianException.of(
              Error.Code.LOCK_NOT_HELD,
              "lock %s: the wait of lease %d was withdrawn by a release",
              r.name(),
              r.lease());
    };
  }

  /** Number of callers waiting on this node. */
  public int size() {
    return waits.values().stream().mapToInt(List::size).sum();
  }
}
