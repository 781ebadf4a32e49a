package io.meridian.cluster.lock;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.state.LockEvent;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Callers waiting on this node for a lock grant. A waiter is registered before its acquire is
 * proposed, so a grant applied before the proposal's reply arrives is never missed. Every replica
 * applies every grant, so a follower completes its own callers' waits.
 */
public final class LockWaits {
  /** A pending grant: the fencing token and the revision of the grant, or a failure. */
  public record Grant(long token, String key, long revision) {}

  private record WaiterKey(String name, long lease) {}

  private final Map<WaiterKey, CopyOnWriteArrayList<CompletableFuture<Grant>>> waits =
      new ConcurrentHashMap<>();

  public CompletableFuture<Grant> register(String name, long lease) {
    CompletableFuture<Grant> future = new CompletableFuture<>();
    waits
        .computeIfAbsent(new WaiterKey(name, lease), k -> new CopyOnWriteArrayList<>())
        .add(future);
    future.whenComplete((g, t) -> forget(name, lease, future));
    return future;
  }

  private void forget(String name, long lease, CompletableFuture<Grant> future) {
    waits.computeIfPresent(
        new WaiterKey(name, lease),
        (k, list) -> {
          list.remove(future);
          return list.isEmpty() ? null : list;
        });
  }

  /** Completes the waits a committed lock event decides. Called on the apply thread. */
  public void onEvent(LockEvent event) {
    if (event instanceof LockEvent.Granted g) {
      complete(g.name(), g.lease(), f -> f.complete(new Grant(g.token(), g.key(), g.revision())));
    } else if (event instanceof LockEvent.Removed r) {
      MeridianException failure =
          switch (r.reason()) {
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
      complete(r.name(), r.lease(), f -> f.completeExceptionally(failure));
    }
  }

  private void complete(
      String name, long lease, java.util.function.Consumer<CompletableFuture<Grant>> action) {
    var list = waits.get(new WaiterKey(name, lease));
    if (list != null) {
      list.forEach(action);
    }
  }

  /** Number of callers waiting on this node. */
  public int size() {
    return waits.values().stream().mapToInt(java.util.List::size).sum();
  }
}
