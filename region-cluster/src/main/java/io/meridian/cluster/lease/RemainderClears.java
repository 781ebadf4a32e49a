package io.meridian.cluster.lease;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Clears the checkpointed remainder of leases renewed since their last checkpoint, so a new leader
 * never grants less than the last acknowledged keep-alive promised: the keep-alive is answered once
 * the clear is committed (etcd's lessor does the same). At most one clearing checkpoint is in
 * flight; leases renewed meanwhile go in the next one, so a lease costs at most one Raft write per
 * checkpoint interval however often it is renewed.
 */
public final class RemainderClears {
  private final Function<List<Long>, CompletableFuture<?>> propose;

  // Guarded by this.
  private Map<Long, CompletableFuture<Void>> next = new LinkedHashMap<>();
  private Map<Long, CompletableFuture<Void>> inFlight = Map.of();

  /**
   * @param propose proposes one checkpoint clearing the remainders of the given leases; completes
   *     once it is applied, or exceptionally
   */
  public RemainderClears(Function<List<Long>, CompletableFuture<?>> propose) {
    this.propose = propose;
  }

  /** Completes once a checkpoint clearing {@code id}'s remainder is applied. */
  public CompletableFuture<Void> clear(long id) {
    CompletableFuture<Void> done;
    Map<Long, CompletableFuture<Void>> batch;
    synchronized (this) {
      done = inFlight.get(id);
      if (done != null) {
        return done;
      }
      done = next.computeIfAbsent(id, k -> new CompletableFuture<>());
      batch = takeNext();
    }
    send(batch);
    return done;
  }

  /** The next batch to send, or null while one is in flight or none waits. */
  private Map<Long, CompletableFuture<Void>> takeNext() {
    if (!inFlight.isEmpty() || next.isEmpty()) {
      return null;
    }
    inFlight = next;
    next = new LinkedHashMap<>();
    return inFlight;
  }

  private void send(Map<Long, CompletableFuture<Void>> batch) {
    if (batch == null) {
      return;
    }
    CompletableFuture<?> proposed;
    try {
      proposed = propose.apply(List.copyOf(batch.keySet()));
    } catch (RuntimeException e) {
      proposed = CompletableFuture.failedFuture(e);
    }
    proposed.whenComplete(
        (r, t) -> {
          Map<Long, CompletableFuture<Void>> following;
          synchronized (this) {
            inFlight = Map.of();
            following = takeNext();
          }
          batch.values().forEach(f -> complete(f, t));
          send(following);
        });
  }

  private static void complete(CompletableFuture<Void> f, Throwable t) {
    if (t == null) {
      f.complete(null);
    } else {
      f.completeExceptionally(t);
    }
  }
}
