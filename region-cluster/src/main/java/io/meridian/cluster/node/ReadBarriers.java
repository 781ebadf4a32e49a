package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;

/**
 * Confirms that this member still leads before it answers a read that must be current (a
 * linearizable read, a keep-alive, a remaining TTL): etcd's ReadIndex, done with the log.
 *
 * <p>A read that arrives while this member leads term {@code T} and its log ends at index {@code L}
 * is confirmed once an entry of term {@code T} at an index above {@code L} is applied here. That
 * entry was appended after the read arrived and a majority of term {@code T} accepted it, so no
 * newer leader committed anything before the read arrived, and the applied state holds every write
 * that completed before it. Writes flowing through the leader confirm waiting reads for free; when
 * none comes, one no-op barrier is proposed, and reads that arrive while it is in flight wait for
 * it or for the next one.
 *
 * <p>Why not Ratis's read index: in Ratis 3.3.0 a read whose index is at or below one an earlier
 * heartbeat round confirmed is answered at once, with no round at all, so a leader cut off from its
 * followers (whose commit index cannot move) answers every read from its stale state until it steps
 * down (decision 0012).
 */
final class ReadBarriers {
  private final LongFunction<CompletableFuture<?>> proposeBarrier;
  private final long timeoutMs;

  // Guarded by this. In arrival order; within a term the log only grows, so logEnd is ascending.
  private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
  private boolean barrierInFlight;

  private record Waiting(long term, long logEnd, CompletableFuture<Void> confirmed) {}

  /**
   * @param proposeBarrier proposes a no-op entry as the leader of the given term; completes when it
   *     is applied, or exceptionally
   * @param timeoutMs how long a read waits to be confirmed before it fails with UNAVAILABLE
   */
  ReadBarriers(LongFunction<CompletableFuture<?>> proposeBarrier, long timeoutMs) {
    this.proposeBarrier = proposeBarrier;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Completes once this member's leadership of {@code term} is confirmed for a read that arrived
   * when its log ended at {@code logEnd}; fails with UNAVAILABLE if it is not within the timeout.
   */
  CompletableFuture<Void> confirm(long term, long logEnd) {
    CompletableFuture<Void> confirmed = new CompletableFuture<>();
    boolean propose;
    synchronized (this) {
      waiting.add(new Waiting(term, logEnd, confirmed));
      propose = !barrierInFlight;
      barrierInFlight = true;
    }
    if (propose) {
      propose(term);
    }
    return withinTimeout(confirmed, term, timeoutMs);
  }

  /**
   * {@code confirmation} of leadership of {@code term}, failed with UNAVAILABLE when it has not
   * come within {@code timeoutMs}: the one answer for a leader that a majority stopped answering,
   * however its leadership is confirmed (a barrier here, a round of appends in {@code
   * HeartbeatAcks}).
   */
  static <T> CompletableFuture<T> withinTimeout(
      CompletableFuture<T> confirmation, long term, long timeoutMs) {
    return confirmation
        .orTimeout(timeoutMs, TimeUnit.MILLISECONDS)
        .exceptionallyCompose(
            t ->
                CompletableFuture.failedFuture(
                    t instanceof java.util.concurrent.TimeoutException
                        ? MeridianException.of(
                            Error.Code.UNAVAILABLE,
                            "leadership of term %d not confirmed by a majority within %d ms (cut"
                                + " off from the other members?): retry",
                            term,
                            timeoutMs)
                        : t));
  }

  private void propose(long term) {
    CompletableFuture<?> barrier;
    try {
      barrier = proposeBarrier.apply(term);
    } catch (RuntimeException e) {
      barrier = CompletableFuture.failedFuture(e);
    }
    barrier.whenComplete(
        (r, t) -> {
          List<Waiting> failed = new ArrayList<>();
          long next = -1;
          synchronized (this) {
            if (t != null) {
              failed.addAll(waiting);
              waiting.clear();
            }
            waiting.removeIf(w -> w.confirmed.isDone());
            if (waiting.isEmpty()) {
              barrierInFlight = false;
            } else {
              // Reads that arrived after the barrier was appended: they need one of their own.
              next = waiting.peekLast().term;
            }
          }
          failed.forEach(w -> w.confirmed.completeExceptionally(unconfirmed(w.term, t)));
          if (next >= 0) {
            propose(next);
          }
        });
  }

  /** An entry of {@code term} at {@code index} was applied here. Called on the apply thread. */
  void applied(long term, long index) {
    List<Waiting> confirmed = new ArrayList<>();
    List<Waiting> superseded = new ArrayList<>();
    synchronized (this) {
      while (!waiting.isEmpty()) {
        Waiting w = waiting.peekFirst();
        if (w.term < term) {
          superseded.add(waiting.pollFirst());
        } else if (w.term == term && index > w.logEnd) {
          confirmed.add(waiting.pollFirst());
        } else {
          break;
        }
      }
    }
    confirmed.forEach(w -> w.confirmed.complete(null));
    superseded.forEach(
        w ->
            w.confirmed.completeExceptionally(
                MeridianException.of(
                    Error.Code.UNAVAILABLE,
                    "leadership changed (term %d ended, an entry of term %d was applied): retry",
                    w.term,
                    term)));
  }

  /** This member no longer leads: every waiting read fails, to be retried at the new leader. */
  void lost() {
    List<Waiting> failed;
    synchronized (this) {
      failed = new ArrayList<>(waiting);
      waiting.clear();
    }
    failed.forEach(
        w ->
            w.confirmed.completeExceptionally(
                MeridianException.of(
                    Error.Code.UNAVAILABLE,
                    "this member lost leadership of term %d: retry",
                    w.term)));
  }

  /** Reads waiting to be confirmed. */
  synchronized int waiting() {
    return waiting.size();
  }

  private static MeridianException unconfirmed(long term, Throwable t) {
    Throwable cause =
        t instanceof java.util.concurrent.CompletionException && t.getCause() != null
            ? t.getCause()
            : t;
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "leadership of term %d could not be confirmed (%s): retry",
        term,
        String.valueOf(cause.getMessage()));
  }
}
