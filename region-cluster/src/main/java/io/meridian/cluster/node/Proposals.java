package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.raft.RatisMessages;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.server.DivisionInfo;

/**
 * The writes one replica proposes: clients' commands, batched into log entries and submitted to
 * this member's own Raft server while it leads or forwarded to the leader otherwise, and the
 * leader's own duties, submitted only to itself.
 */
public final class Proposals {
  /**
   * Write batches (log entries) one member has in flight per shard, and the most one batch holds.
   * One in flight per member: the three members' entries still overlap at the leader, and each
   * waits for a whole round trip's writes. Side by side (bench/compare-etcd, gRPC puts, warm), 1 in
   * flight did 3,590/s at 16 writers and 12,953/s at 128 against 3,249/s and 10,840/s with 2 and
   * 2,307/s and 9,196/s with 4, with less CPU per put: Raft's cost is per entry. A batch stays far
   * below the appender's 4 MB buffer and gRPC's 6 MB message limit.
   */
  static final int PROPOSALS_IN_FLIGHT = 1;

  static final int PROPOSAL_BATCH = 256;
  static final long PROPOSAL_BATCH_BYTES = 1 << 20;

  /** Writes one member may have in flight per shard; the Raft client allows as many. */
  public static final int MAX_WRITES_IN_FLIGHT = 1024;

  // 100 attempts 50 ms apart: a new leader commits its first entry well within 5 s.
  private static final int LEADER_NOT_READY_ATTEMPTS = 100;

  private final int shard;
  private final String member;
  private final RaftCalls raft;
  // Writes in flight through this member: beyond the bound a write fails fast with UNAVAILABLE
  // instead of blocking a server thread inside the Raft client.
  private final Semaphore writesInFlight = new Semaphore(MAX_WRITES_IN_FLIGHT);
  private final BatchQueue<Command, CommandResult> queue;
  // Client writes this member submits to its own Raft server while it leads.
  private final ClientId localWrites = ClientId.randomId();
  // Leader duties this member submits to its own Raft server (never resent to another leader).
  private final ClientId localDuties = ClientId.randomId();

  /**
   * @param batchSizes receives the number of client writes in each entry this member proposes
   */
  Proposals(int shard, String member, RaftCalls raft, IntConsumer batchSizes) {
    this.shard = shard;
    this.member = member;
    this.raft = raft;
    this.queue =
        BatchQueue.proposals(
            this::sendEntry, PROPOSALS_IN_FLIGHT, PROPOSAL_BATCH, PROPOSAL_BATCH_BYTES, batchSizes);
  }

  /** Writes waiting for the entry in flight (a gauge). */
  int waiting() {
    return queue.waiting();
  }

  /** The client id of this member's leader duties (also its leadership transfers). */
  ClientId duties() {
    return localDuties;
  }

  /**
   * Proposes {@code command}; completes with its result, or with an UNAVAILABLE error result (no
   * leader reachable, too many writes in flight on this member, or leadership moved while a write
   * without a request id was in flight: retry with backoff).
   *
   * <p>Writes that arrive while earlier ones are in flight go out together as one log entry ({@link
   * BatchQueue}); each is applied as if proposed alone.
   */
  CompletableFuture<CommandResult> propose(Command command) {
    if (!writesInFlight.tryAcquire()) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: %d writes in flight on member %s; retry with backoff",
              shard,
              MAX_WRITES_IN_FLIGHT,
              member));
    }
    return queue.submit(command).whenComplete((r, t) -> writesInFlight.release());
  }

  /**
   * Sends one log entry (a command or a batch): to this member's own Raft server while it leads,
   * else through the Raft client to the leader.
   */
  private CompletableFuture<CommandResult> sendEntry(Command entry) {
    return sendEntry(entry, LEADER_NOT_READY_ATTEMPTS);
  }

  private CompletableFuture<CommandResult> sendEntry(Command entry, int attemptsLeft) {
    if (raft.leadingNow()) {
      return submitLocally(entry, attemptsLeft);
    }
    return raft.forward(entry);
  }

  private CompletableFuture<CommandResult> submitLocally(Command entry, int attemptsLeft) {
    return raft.submitHere(
            localWrites, RatisMessages.toMessage(entry), RaftClientRequest.writeRequestType())
        .thenCompose(
            reply -> {
              if (reply.isSuccess()) {
                return CompletableFuture.completedFuture(
                    RaftCalls.parse(reply, CommandResult.parser()));
              }
              Throwable refused = reply.getException();
              if (refused instanceof LeaderNotReadyException && attemptsLeft > 1) {
                // Not appended: this leader has not committed its term's first entry yet.
                return later().thenCompose(ignored -> sendEntry(entry, attemptsLeft - 1));
              }
              if (refused instanceof NotLeaderException) {
                return afterLeadershipMoved(entry);
              }
              throw RaftCalls.unavailable(refused);
            });
  }

  /**
   * A local submission answered "not leader": refused on arrival, or appended and then dropped from
   * the pending requests when this member stepped down, so it may still commit under the next
   * leader. Only writes whose request ids make a second apply a no-op (the dedup table answers with
   * the first outcome) are resent; the others are answered UNAVAILABLE, as etcd answers "leader
   * changed", rather than risk applying them twice.
   */
  private CompletableFuture<CommandResult> afterLeadershipMoved(Command entry) {
    List<Command> commands = entry.hasBatch() ? entry.getBatch().getCommandsList() : List.of(entry);
    if (commands.stream().noneMatch(c -> c.getRequestId().isEmpty())) {
      return raft.forward(entry);
    }
    throw MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard %d: leadership moved from member %s while the write was in flight; it may or may"
            + " not have been applied (writes with a request_id are retried safely)",
        shard,
        member);
  }

  /**
   * Proposes a leader duty's command to this member's own Raft server while it leads {@code term}:
   * submitted once, never resent to another leader (a deposed leader's expiry appended in its
   * successor's term could revoke a lease renewed since, etcd #15247). A leader whose first entry
   * of the term is not committed yet is waited for, as long as it still leads {@code term}.
   * Completes with the command's result, or fails with UNAVAILABLE.
   */
  CompletableFuture<CommandResult> proposeAsLeader(Command command, long term) {
    return submitAsLeader(RatisMessages.toMessage(command), term, LEADER_NOT_READY_ATTEMPTS)
        .thenApply(reply -> RaftCalls.parse(reply, CommandResult.parser()))
        .exceptionally(
            t -> {
              throw RaftCalls.unavailable(t);
            });
  }

  private CompletableFuture<RaftClientReply> submitAsLeader(
      Message message, long term, int attemptsLeft) {
    DivisionInfo info = raft.info();
    if (info == null || !info.isLeader() || info.getCurrentTerm() != term) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: member %s no longer leads term %d; its duty was dropped",
              shard,
              member,
              term));
    }
    return raft.submitHere(localDuties, message, RaftClientRequest.writeRequestType())
        .thenCompose(
            reply -> {
              if (reply.isSuccess()
                  || !(reply.getException() instanceof LeaderNotReadyException)
                  || attemptsLeft <= 1) {
                return CompletableFuture.completedFuture(reply);
              }
              return later()
                  .thenCompose(ignored -> submitAsLeader(message, term, attemptsLeft - 1));
            });
  }

  private static CompletableFuture<Void> later() {
    return CompletableFuture.runAsync(
        () -> {}, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS));
  }
}
