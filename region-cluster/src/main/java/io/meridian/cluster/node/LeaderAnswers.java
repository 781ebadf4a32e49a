package io.meridian.cluster.node;

import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.lease.LeaseView;
import io.meridian.cluster.lease.RemainderClears;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.QueryResultBatch;
import io.meridian.cluster.registry.SelfPreservation;
import io.meridian.cluster.state.ShardState;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;

/**
 * The reads only the shard's leader answers, from what it holds in memory: lease keep-alives and
 * remaining TTLs ({@link LeaseClock}), and registry heartbeats (a keep-alive counted for
 * self-preservation). Everything else a read asks is answered by the applied state ({@link
 * ShardState#query}).
 *
 * <p>Each answer refuses unless this member leads a PRIMARY cluster and has taken over its term's
 * leases: a standby or fenced cluster must not keep a session alive that its primary expires.
 */
final class LeaderAnswers {
  private final String member;
  private final StateReader<ShardState> state;
  private final LeaseClock leaseClock;
  private final SelfPreservation selfPreservation;
  private final LongSupplier leadingTerm;
  private final BiFunction<Command, Long, CompletableFuture<CommandResult>> proposeAsLeader;
  private final RemainderClears remainderClears;

  /**
   * @param leadingTerm the term this member leads and has taken over the leases of, or -1
   * @param proposeAsLeader proposes a command as leader of a term (checkpoints clearing remainders)
   */
  LeaderAnswers(
      String member,
      StateReader<ShardState> state,
      LeaseClock leaseClock,
      SelfPreservation selfPreservation,
      LongSupplier leadingTerm,
      BiFunction<Command, Long, CompletableFuture<CommandResult>> proposeAsLeader) {
    this.member = member;
    this.state = state;
    this.leaseClock = leaseClock;
    this.selfPreservation = selfPreservation;
    this.leadingTerm = leadingTerm;
    this.proposeAsLeader = proposeAsLeader;
    this.remainderClears = new RemainderClears(this::clearRemainders);
  }

  /**
   * Answers a read once this member's leadership was confirmed after it arrived: what the leader
   * holds in memory here, everything else from the applied state of a PRIMARY.
   */
  CompletableFuture<QueryResult> answer(Query query) {
    try {
      return switch (query.getQCase()) {
        case LEASE_RENEW -> renew(query.getLeaseRenew().getId());
        case REGISTRY_HEARTBEAT -> heartbeat(query.getRegistryHeartbeat());
        case LEASE_TTL ->
            CompletableFuture.completedFuture(
                timeToLive(query.getLeaseTtl().getId(), query.getLeaseTtl().getKeys()));
        case BATCH -> batch(query);
        default -> {
          state.read(ShardState::requirePrimary);
          yield CompletableFuture.completedFuture(state.read(s -> s.query(query)));
        }
      };
    } catch (MeridianException e) {
      return CompletableFuture.completedFuture(
          QueryResult.newBuilder().setError(e.toError()).build());
    }
  }

  private CompletableFuture<QueryResult> batch(Query query) {
    List<CompletableFuture<QueryResult>> parts = new java.util.ArrayList<>();
    for (Query q : query.getBatch().getQueriesList()) {
      parts.add(
          q.hasBatch()
              ? CompletableFuture.completedFuture(
                  QueryResult.newBuilder()
                      .setError(
                          MeridianException.of(
                                  Error.Code.INVALID_ARGUMENT, "a batch holds no batch")
                              .toError())
                      .build())
              : answer(q));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .thenApply(
            v -> {
              QueryResultBatch.Builder b = QueryResultBatch.newBuilder();
              parts.forEach(p -> b.addResults(p.join()));
              return QueryResult.newBuilder().setBatch(b).build();
            });
  }

  private void checkLeaseLeader(long id) {
    state.read(ShardState::requirePrimary);
    if (leadingTerm.getAsLong() < 0) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "lease %d: this member is not the ready leader, retry", id);
    }
  }

  /**
   * A keep-alive. A lease past its deadline is not renewed (the expiry may be under way) unless
   * self-preservation keeps it. The first keep-alive after a checkpoint is answered once the
   * lease's checkpointed remainder is cleared, so a new leader grants it at least its TTL.
   */
  CompletableFuture<QueryResult> renew(long id) {
    checkLeaseLeader(id);
    OptionalLong ttl = leaseClock.renew(id, false);
    if (ttl.isEmpty() && state.read(s -> s.selfPreservation() && s.preservable(id))) {
      ttl = leaseClock.renew(id, true);
    }
    if (ttl.isEmpty()) {
      throw LeaseId.notFound(id);
    }
    long[] facts =
        state.read(s -> new long[] {s.registryInstancesOf(id), s.checkpointedRemainder(id)});
    selfPreservation.renewed((int) facts[0]);
    QueryResult renewed =
        QueryResult.newBuilder()
            .setLeaseRenew(
                LeaseKeepAliveResponse.newBuilder()
                    .setId(id)
                    .setTtl(ttl.getAsLong() / 1000)
                    .setHeader(state.read(ShardState::header)))
            .build();
    if (facts[1] == 0) {
      return CompletableFuture.completedFuture(renewed);
    }
    return remainderClears
        .clear(id)
        .handle(
            (v, t) ->
                t == null
                    ? renewed
                    : QueryResult.newBuilder()
                        .setError(
                            MeridianException.of(
                                    Error.Code.UNAVAILABLE,
                                    "lease %d: the renewal could not be recorded, retry: %s",
                                    id,
                                    t.getMessage())
                                .toError())
                        .build());
  }

  /** Proposes a checkpoint that clears the remainders of {@code ids} (see {@link #renew}). */
  private CompletableFuture<CommandResult> clearRemainders(List<Long> ids) {
    long term = leaseClock.term();
    LeaseCheckpoint.Builder b =
        LeaseCheckpoint.newBuilder().setProposerTerm(term).setLeader(member);
    ids.forEach(id -> b.addLeases(LeaseCheckpoint.Remaining.newBuilder().setId(id)));
    return proposeAsLeader
        .apply(Command.newBuilder().setLeaseCheckpoint(b).build(), term)
        .thenApply(
            r -> {
              if (r.hasError()) {
                throw MeridianException.fromError(r.getError());
              }
              return r;
            });
  }

  /** A registry heartbeat: a keep-alive of the instance's lease, counted for self-preservation. */
  CompletableFuture<QueryResult> heartbeat(HeartbeatRequest request) {
    state.read(ShardState::requirePrimary);
    Instance instance =
        state
            .read(
                s ->
                    s.instance(
                        request.getNamespace(), request.getService(), request.getInstanceId()))
            .orElseThrow(
                () ->
                    MeridianException.of(
                        Error.Code.NOT_FOUND,
                        "instance %s/%s/%s: not registered (evicted or deregistered: register it"
                            + " again)",
                        request.getNamespace(),
                        request.getService(),
                        request.getInstanceId()));
    return renew(instance.getLease())
        .thenApply(
            r -> {
              if (r.hasError()) {
                return r;
              }
              LeaseKeepAliveResponse renewed = r.getLeaseRenew();
              return QueryResult.newBuilder()
                  .setRegistryHeartbeat(
                      HeartbeatResponse.newBuilder()
                          .setHeader(renewed.getHeader())
                          .setLease(instance.getLease())
                          .setTtl(renewed.getTtl())
                          .setSelfPreservation(state.read(ShardState::selfPreservation)))
                  .build();
            });
  }

  /** A lease's remaining TTL as the leader's clock has it (else its checkpoint, else its TTL). */
  QueryResult timeToLive(long id, boolean keys) {
    checkLeaseLeader(id);
    LeaseView lease = state.read(s -> s.lease(id)).orElseThrow(() -> LeaseId.notFound(id));
    long remainingMs =
        leaseClock
            .remaining(id)
            .orElse(lease.remainingMs() > 0 ? lease.remainingMs() : lease.ttlMs());
    LeaseTimeToLiveResponse.Builder b =
        LeaseTimeToLiveResponse.newBuilder()
            .setHeader(state.read(ShardState::header))
            .setId(id)
            .setTtl((remainingMs + 999) / 1000)
            .setGrantedTtl(lease.ttlMs() / 1000)
            .setNamespace(lease.namespace());
    if (keys) {
      b.addAllKeys(lease.keys());
    }
    return QueryResult.newBuilder().setLeaseTtl(b).build();
  }
}
