package io.meridian.cluster.node;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;

/**
 * The log index this member has applied, and the reads waiting until it reaches theirs: a
 * linearizable read served by a follower waits here for the leader's read index.
 */
final class AppliedIndex {
  private record Waiter(long index, CompletableFuture<Void> reached) {}

  // Guarded by this.
  private final PriorityQueue<Waiter> waiters =
      new PriorityQueue<>((a, b) -> Long.compare(a.index, b.index));
  private long applied;

  AppliedIndex(long applied) {
    this.applied = applied;
  }

  /** Completes once {@link #advance} reached {@code index}: at once if it already has. */
  CompletableFuture<Void> await(long index) {
    synchronized (this) {
      if (index > applied) {
        Waiter w = new Waiter(index, new CompletableFuture<>());
        waiters.add(w);
        return w.reached();
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Records that entries up to {@code index} are applied (called on the apply thread, or after a
   * snapshot was loaded); completes the waiters it reached, on the calling thread.
   */
  void advance(long index) {
    List<Waiter> reached = new ArrayList<>();
    synchronized (this) {
      if (index <= applied) {
        return;
      }
      applied = index;
      while (!waiters.isEmpty() && waiters.peek().index() <= index) {
        reached.add(waiters.poll());
      }
    }
    reached.forEach(w -> w.reached().complete(null));
  }
}
