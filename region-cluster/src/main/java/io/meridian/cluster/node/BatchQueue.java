package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandBatch;
import io.meridian.cluster.proto.CommandResult;
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
 * Gathers what one member sends through Raft into batches: while {@code maxInFlight} batches are
 * out, new items wait, and the next batch carries every item that arrived meanwhile (up to {@code
 * maxCount} items and {@code maxBytes}). An idle member sends an item at once and alone, so
 * batching adds no latency at low load; a busy one sends a few Raft requests per round trip instead
 * of one per item. Raft's per-request machinery (client window, retry cache, log entry, fsync
 * bookkeeping, thread hand-offs) is the cost, not the state machine: etcd batches proposals into
 * one Ready for the same reason.
 *
 * <p>Two kinds use it: client writes ({@link #proposals}: one batch is one log entry, applied in
 * order, each command exactly as if proposed alone) and reads the leader answers from memory
 * ({@link #leaderReads}: keep-alives, heartbeats, remaining TTLs; one batch is one Raft read).
 *
 * <p>{@code send} makes one attempt. Its failure, or an error result for a whole batch, becomes
 * each item's result: never an exceptional completion.
 *
 * @param <T> what is sent (a command, a query)
 * @param <R> its result
 */
final class BatchQueue<T, R> {
  /** How items are combined into one request and its answer split back. */
  interface Batching<T, R> {
    /** One request carrying {@code items} (two or more), in order. */
    T combine(List<T> items);

    /** The answers to the items of a batch, in order: as many as it answered. */
    List<R> split(R answer);

    /** Whether {@code answer} answers a batch item by item (else it is every item's result). */
    boolean answersEach(R answer);

    /** The result of an item whose request failed or went unanswered. */
    R failure(Error.Code code, String message);

    /** The size an item adds to a batch. */
    int bytes(T item);
  }

  private final Function<T, CompletableFuture<R>> send;
  private final Batching<T, R> batching;
  private final int maxInFlight;
  private final int maxCount;
  private final long maxBytes;
  private final IntConsumer sent;
  private final Object lock = new Object();
  // Guarded by lock.
  private final ArrayDeque<Waiting<T, R>> waiting = new ArrayDeque<>();
  private int inFlight;

  private record Waiting<T, R>(T item, CompletableFuture<R> result) {}

  /**
   * @param send makes one attempt at a request (a batch or a single item)
   * @param sent told each batch's size as it is sent (metrics)
   */
  BatchQueue(
      Function<T, CompletableFuture<R>> send,
      Batching<T, R> batching,
      int maxInFlight,
      int maxCount,
      long maxBytes,
      IntConsumer sent) {
    if (maxInFlight < 1 || maxCount < 1 || maxBytes < 1) {
      throw new IllegalArgumentException(
          "maxInFlight, maxCount and maxBytes must be positive: "
              + maxInFlight
              + ", "
              + maxCount
              + ", "
              + maxBytes);
    }
    this.send = send;
    this.batching = batching;
    this.maxInFlight = maxInFlight;
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
    this.sent = sent;
  }

  /** A queue of client writes: a batch is one {@link CommandBatch} entry. */
  static BatchQueue<Command, CommandResult> proposals(
      Function<Command, CompletableFuture<CommandResult>> send,
      int maxInFlight,
      int maxCount,
      long maxBytes,
      IntConsumer sent) {
    return new BatchQueue<>(send, COMMANDS, maxInFlight, maxCount, maxBytes, sent);
  }

  /** A queue of leader reads: a batch is one {@link QueryBatch} read. */
  static BatchQueue<Query, QueryResult> leaderReads(
      Function<Query, CompletableFuture<QueryResult>> send,
      int maxInFlight,
      int maxCount,
      IntConsumer sent) {
    return new BatchQueue<>(send, QUERIES, maxInFlight, maxCount, Long.MAX_VALUE, sent);
  }

  /** Sends {@code item} in the next batch; completes with its own result. */
  CompletableFuture<R> submit(T item) {
    Waiting<T, R> w = new Waiting<>(item, new CompletableFuture<>());
    List<Waiting<T, R>> batch;
    synchronized (lock) {
      waiting.add(w);
      batch = nextBatch();
    }
    if (batch != null) {
      send(batch);
    }
    return w.result();
  }

  /** Items waiting for a batch slot (metrics, tests). */
  int waiting() {
    synchronized (lock) {
      return waiting.size();
    }
  }

  // Under lock: takes a slot and the items for it, or null when none is free or nothing waits.
  private List<Waiting<T, R>> nextBatch() {
    if (inFlight >= maxInFlight || waiting.isEmpty()) {
      return null;
    }
    inFlight++;
    List<Waiting<T, R>> batch = new ArrayList<>(Math.min(waiting.size(), maxCount));
    long bytes = 0;
    while (!waiting.isEmpty() && batch.size() < maxCount) {
      int size = batching.bytes(waiting.peek().item());
      // The first item always goes, however large: the transport's own limit refuses it.
      if (!batch.isEmpty() && bytes + size > maxBytes) {
        break;
      }
      bytes += size;
      batch.add(waiting.poll());
    }
    return batch;
  }

  private void send(List<Waiting<T, R>> batch) {
    while (batch != null) {
      T request =
          batch.size() == 1
              ? batch.get(0).item()
              : batching.combine(batch.stream().map(Waiting::item).toList());
      this.sent.accept(batch.size());
      CompletableFuture<R> attempt;
      try {
        attempt = send.apply(request);
      } catch (RuntimeException e) {
        attempt = CompletableFuture.failedFuture(e);
      }
      if (!attempt.isDone()) {
        List<Waiting<T, R>> inThisBatch = batch;
        attempt.whenComplete(
            (result, t) -> {
              deliver(inThisBatch, result, t);
              List<Waiting<T, R>> next;
              synchronized (lock) {
                inFlight--;
                next = nextBatch();
              }
              send(next);
            });
        return;
      }
      // Answered at once (no leader known, say): loop instead of recursing for the next batch.
      List<Waiting<T, R>> answered = batch;
      attempt.whenComplete((result, t) -> deliver(answered, result, t)); // runs now: it is done
      synchronized (lock) {
        inFlight--;
        batch = nextBatch();
      }
    }
  }

  private void deliver(List<Waiting<T, R>> batch, R result, Throwable t) {
    if (t != null) {
      MeridianException known = null;
      for (Throwable c = t; c != null && known == null; c = c.getCause()) {
        known = c instanceof MeridianException m ? m : null;
      }
      R error =
          known != null
              ? batching.failure(known.code(), known.getMessage())
              : batching.failure(
                  Error.Code.UNAVAILABLE,
                  "shard leader unavailable, retry: " + String.valueOf(t.getMessage()));
      batch.forEach(w -> w.result().complete(error));
      return;
    }
    if (batch.size() == 1) {
      batch.get(0).result().complete(result);
      return;
    }
    if (!batching.answersEach(result)) {
      batch.forEach(w -> w.result().complete(result));
      return;
    }
    List<R> results = batching.split(result);
    for (int i = 0; i < batch.size(); i++) {
      batch
          .get(i)
          .result()
          .complete(
              i < results.size()
                  ? results.get(i)
                  : batching.failure(
                      Error.Code.INTERNAL,
                      String.format(
                          "the leader answered %d of a batch of %d",
                          results.size(), batch.size())));
    }
  }

  private static final Batching<Command, CommandResult> COMMANDS =
      new Batching<>() {
        @Override
        public Command combine(List<Command> items) {
          return Command.newBuilder()
              .setBatch(CommandBatch.newBuilder().addAllCommands(items))
              .build();
        }

        @Override
        public List<CommandResult> split(CommandResult answer) {
          return answer.getBatch().getResultsList();
        }

        @Override
        public boolean answersEach(CommandResult answer) {
          return answer.hasBatch();
        }

        @Override
        public CommandResult failure(Error.Code code, String message) {
          return CommandResult.newBuilder()
              .setError(Error.newBuilder().setCode(code).setMessage(message))
              .build();
        }

        @Override
        public int bytes(Command item) {
          return item.getSerializedSize();
        }
      };

  private static final Batching<Query, QueryResult> QUERIES =
      new Batching<>() {
        @Override
        public Query combine(List<Query> items) {
          return Query.newBuilder().setBatch(QueryBatch.newBuilder().addAllQueries(items)).build();
        }

        @Override
        public List<QueryResult> split(QueryResult answer) {
          return answer.getBatch().getResultsList();
        }

        @Override
        public boolean answersEach(QueryResult answer) {
          return answer.hasBatch();
        }

        @Override
        public QueryResult failure(Error.Code code, String message) {
          return QueryResult.newBuilder()
              .setError(Error.newBuilder().setCode(code).setMessage(message))
              .build();
        }

        @Override
        public int bytes(Query item) {
          return 0;
        }
      };
}
