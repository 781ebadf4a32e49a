package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.ReadIndex;
import io.meridian.cluster.raft.RatisMessages;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.TimeoutIOException;
import org.apache.ratis.server.DivisionInfo;

/**
 * The reads one replica sends to its shard's leader, batched: reads only the leader can answer
 * (lease keep-alives and remaining TTLs live in its memory), and read indexes for linearizable
 * reads this member then answers from its own state (etcd's ReadIndex, served on any member).
 */
final class LeaderReads {
  /** Batches of leader reads one member has in flight per shard, and the reads in one batch. */
  static final int LEADER_READS_IN_FLIGHT = 2;

  static final int LEADER_READ_BATCH = 512;

  private static final String OVERLOADED = "overloaded";

  private final String member;
  private final RaftCalls raft;
  private final AppliedIndex appliedIndex;
  private final Function<Query, QueryResult> answerApplied;
  private final long confirmTimeoutMs;
  private final BatchQueue<Query, QueryResult> leaderReads;
  private final BatchQueue<Query, QueryResult> linearReads;

  /**
   * @param answerApplied answers a read (or a batch) from this member's state once it applied the
   *     read's index
   * @param leaderBatches receives the reads in each leader read sent
   * @param linearBatches receives the linearizable reads answered per read index fetched
   */
  LeaderReads(
      String member,
      RaftCalls raft,
      AppliedIndex appliedIndex,
      Function<Query, QueryResult> answerApplied,
      long confirmTimeoutMs,
      IntConsumer leaderBatches,
      IntConsumer linearBatches) {
    this.member = member;
    this.raft = raft;
    this.appliedIndex = appliedIndex;
    this.answerApplied = answerApplied;
    this.confirmTimeoutMs = confirmTimeoutMs;
    this.leaderReads =
        BatchQueue.leaderReads(
            this::sendToLeader, LEADER_READS_IN_FLIGHT, LEADER_READ_BATCH, leaderBatches);
    this.linearReads =
        BatchQueue.leaderReads(
            this::readConfirmed, LEADER_READS_IN_FLIGHT, LEADER_READ_BATCH, linearBatches);
  }

  /** Leader reads waiting for the batch in flight (a gauge). */
  int waiting() {
    return leaderReads.waiting();
  }

  /**
   * A read the leader itself must answer: sent to the leader this node sees, answered once its
   * leadership is confirmed, in a batch with the other leader reads this member has waiting. While
   * leadership moves, a follower or a leader that has not started its term refuses with {@code
   * UNAVAILABLE}; the read is retried every 100 ms for up to about 5 s.
   */
  CompletableFuture<QueryResult> readAtLeader(Query query) {
    return retryUnavailable(() -> leaderReads.submit(query), 50);
  }

  /**
   * A linearizable read, answered by this member from its own state once it has applied the
   * leader's read index: an index the leader gave after confirming its leadership for a request
   * sent after this read arrived, so every write that completed before the read is applied here.
   * Reads that arrive while a read index is being fetched share the next one. While leadership
   * moves, retried every 100 ms for up to about 5 s.
   */
  CompletableFuture<QueryResult> readLinearizable(Query query) {
    return retryUnavailable(() -> linearReads.submit(query), 50);
  }

  /** Fetches a read index, waits to have applied it, then answers {@code query} (or a batch). */
  private CompletableFuture<QueryResult> readConfirmed(Query query) {
    return sendToLeader(Query.newBuilder().setReadIndex(ReadIndex.getDefaultInstance()).build())
        .thenCompose(
            index -> {
              if (index.hasError()) {
                return CompletableFuture.completedFuture(index);
              }
              return appliedIndex
                  .await(index.getReadIndex())
                  .orTimeout(confirmTimeoutMs, TimeUnit.MILLISECONDS)
                  // Off the apply thread, which completes the wait.
                  .thenApplyAsync(applied -> answerApplied.apply(query), raft.localThreads())
                  .exceptionally(
                      t ->
                          notReady(
                              "member "
                                  + member
                                  + " did not apply the read index "
                                  + index.getReadIndex()
                                  + " within "
                                  + confirmTimeoutMs
                                  + " ms"));
            });
  }

  /** One attempt at a leader read (or a batch of them); failures come back as error results. */
  private CompletableFuture<QueryResult> sendToLeader(Query query) {
    DivisionInfo info = raft.info();
    RaftPeerId leader = info == null ? null : info.getLeaderId();
    if (leader == null) {
      return CompletableFuture.completedFuture(notReady("no leader known yet"));
    }
    Message message = RatisMessages.toMessage(query);
    CompletableFuture<RaftClientReply> reply =
        leader.equals(raft.server().getId())
            ? raft.readHere(message)
            : raft.readThere(message, leader);
    return reply
        .thenApply(r -> RaftCalls.parse(r, QueryResult.parser()))
        .exceptionally(
            t ->
                timedOut(t)
                    ? overloaded(String.valueOf(t.getMessage()))
                    : notReady(String.valueOf(t.getMessage())));
  }

  /** Retries an UNAVAILABLE answer (not an overloaded one) every 100 ms, {@code attempts} times. */
  private static CompletableFuture<QueryResult> retryUnavailable(
      Supplier<CompletableFuture<QueryResult>> attempt, int attemptsLeft) {
    return attempt
        .get()
        .thenCompose(
            result -> {
              boolean retry =
                  result.hasError()
                      && result.getError().getCode() == Error.Code.UNAVAILABLE
                      && !result.getError().containsDetails(OVERLOADED)
                      && attemptsLeft > 1;
              if (!retry) {
                return CompletableFuture.completedFuture(result);
              }
              return CompletableFuture.supplyAsync(
                      () -> null, CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS))
                  .thenCompose(ignored -> retryUnavailable(attempt, attemptsLeft - 1));
            });
  }

  private static boolean timedOut(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TimeoutIOException || c instanceof TimeoutException) {
        return true;
      }
    }
    return false;
  }

  /**
   * A read the leader did not answer in time: not retried here, since retrying a slow leader is how
   * an overload snowballs into lost leadership. The caller backs off and retries.
   */
  private static QueryResult overloaded(String why) {
    return QueryResult.newBuilder()
        .setError(
            new MeridianException(
                    Error.Code.UNAVAILABLE,
                    "shard leader did not answer in time, retry with backoff: " + why,
                    Map.of(OVERLOADED, "true"))
                .toError())
        .build();
  }

  /** An UNAVAILABLE answer: no leader to read from now; retried. */
  static QueryResult notReady(String why) {
    return QueryResult.newBuilder()
        .setError(
            MeridianException.of(Error.Code.UNAVAILABLE, "shard leader unavailable, retry: %s", why)
                .toError())
        .build();
  }
}
