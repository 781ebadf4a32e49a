package io.meridian.cluster.lock;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.state.LockEvent;
import java.util.ArrayList;
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
 */
public final class LockWaits {
  /** A grant: the fencing token, the holder's key and the revision of the grant. */
  public record Grant(long token, String key, long revision) {}

  private record WaiterKey(String name, long lease) {}

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

    /** Only events at or after {@code revision} (the acquire's own) decide this wait. */
    public void arm(long revision) {
      List<LockEvent> seen;
      synchronized (this) {
        fromRevision = revision;
        seen = new ArrayList<>(early);
        early.clear();
      }
      seen.forEach(this::offer);
    }

    /** Stops waiting; a no-op if already decided. */
    public void cancel() {
      future.cancel(false);
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
      decide(event);
    }

    private void decide(LockEvent event) {
      if (event instanceof LockEvent.Granted g) {
        future.complete(new Grant(g.token(), g.key(), g.revision()));
      } else if (event instanceof LockEvent.Removed r) {
        future.completeExceptionally(failure(r));
      }
    }
  }

  private final Map<WaiterKey, CopyOnWriteArrayList<Wait>> waits = new ConcurrentHashMap<>();

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
