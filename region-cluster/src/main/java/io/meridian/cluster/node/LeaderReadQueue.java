package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryBatch;
import io.meridian.cluster.proto.QueryResult;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Gathers the reads one member sends to its shard's leader (lease keep-alives, registry heartbeats,
 * remaining TTLs) into batches. While {@code maxInFlight} batches are out, new reads wait; the next
 * batch carries every read that arrived meanwhile, up to {@code maxBatch}. An idle member sends a
 * read at once; a busy one sends a few Raft reads per round trip instead of one per keep-alive,
 * which is what let 5,000 heartbeats a second swamp the Raft client (etcd forwards keep-alives over
 * one stream per member for the same reason).
 *
 * <p>{@code send} makes one attempt and always completes with a result: failures are error results.
 * A batch's error (no leader, leader too slow) becomes each of its reads' result.
 */
final class LeaderReadQueue {
  private final Function<Query, CompletableFuture<QueryResult>> send;
  private final int maxInFlight;
  private final int maxBatch;
  private final IntConsumer sent;
  private final Object lock = new Object();
  // Guarded by lock.
  private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
  private int inFlight;

  private record Waiting(Query query, CompletableFuture<QueryResult> result) {}

  /**
   * @param send makes one attempt at a query (a batch or a single read)
   * @param sent told each batch's size as it is sent (metrics)
   */
  LeaderReadQueue(
      Function<Query, CompletableFuture<QueryResult>> send,
      int maxInFlight,
      int maxBatch,
      IntConsumer sent) {
    this.send = send;
    this.maxInFlight = maxInFlight;
    this.maxBatch = maxBatch;
    this.sent = sent;
  }

  /** Sends {@code query} to the leader in the next batch; completes with its own result. */
  CompletableFuture<QueryResult> submit(Query query) {
    Waiting w = new Waiting(query, new CompletableFuture<>());
    List<Waiting> batch;
    synchronized (lock) {
      waiting.add(w);
      batch = nextBatch();
    }
    if (batch != null) {
      send(batch);
    }
    return w.result();
  }

  /** Reads waiting for a batch slot (metrics, tests). */
  int waiting() {
    synchronized (lock) {
      return waiting.size();
    }
  }

  // Under lock: takes a slot and the reads for it, or null when none is free or nothing waits.
  private List<Waiting> nextBatch() {
    if (inFlight >= maxInFlight || waiting.isEmpty()) {
      return null;
    }
    inFlight++;
    List<Waiting> batch = new ArrayList<>(Math.min(waiting.size(), maxBatch));
    while (!waiting.isEmpty() && batch.size() < maxBatch) {
      batch.add(waiting.poll());
    }
    return batch;
  }

  private void send(List<Waiting> batch) {
    while (batch != null) {
      Query query =
          batch.size() == 1
              ? batch.get(0).query()
              : Query.newBuilder()
                  .setBatch(
                      QueryBatch.newBuilder()
                          .addAllQueries(batch.stream().map(Waiting::query).toList()))
                  .build();
      this.sent.accept(batch.size());
      CompletableFuture<QueryResult> attempt;
      try {
        attempt = send.apply(query);
      } catch (RuntimeException e) {
        attempt = CompletableFuture.failedFuture(e);
      }
      if (!attempt.isDone()) {
        List<Waiting> inThisBatch = batch;
        attempt.whenComplete(
            (result, t) -> {
              deliver(inThisBatch, result, t);
              List<Waiting> next;
              synchronized (lock) {
                inFlight--;
                next = nextBatch();
              }
              send(next);
            });
        return;
      }
      // Answered at once (no leader known, say): loop instead of recursing for the next batch.
      List<Waiting> answered = batch;
      attempt.whenComplete((result, t) -> deliver(answered, result, t)); // runs now: it is done
      synchronized (lock) {
        inFlight--;
        batch = nextBatch();
      }
    }
  }

  private static void deliver(List<Waiting> batch, QueryResult result, Throwable t) {
    if (t != null) {
      QueryResult error =
          QueryResult.newBuilder()
              .setError(
                  MeridianException.of(
                          Error.Code.UNAVAILABLE,
                          "shard leader unavailable, retry: %s",
                          String.valueOf(t.getMessage()))
                      .toError())
              .build();
      batch.forEach(w -> w.result().complete(error));
      return;
    }
    if (batch.size() == 1) {
      batch.get(0).result().complete(result);
      return;
    }
    if (!result.hasBatch()) {
      batch.forEach(w -> w.result().complete(result));
      return;
    }
    List<QueryResult> results = result.getBatch().getResultsList();
    for (int i = 0; i < batch.size(); i++) {
      batch
          .get(i)
          .result()
          .complete(
              i < results.size()
                  ? results.get(i)
                  : QueryResult.newBuilder()
                      .setError(
                          MeridianException.of(
                                  Error.Code.INTERNAL,
                                  "leader answered %d of a batch of %d reads",
                                  results.size(),
                                  batch.size())
                              .toError())
                      .build());
    }
  }
}
