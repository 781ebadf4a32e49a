package io.meridian.cluster;

import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberAddRequest;
import io.meridian.api.v1.MemberAddResponse;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.MemberPromoteRequest;
import io.meridian.api.v1.MemberPromoteResponse;
import io.meridian.api.v1.MemberRemoveRequest;
import io.meridian.api.v1.MemberRemoveResponse;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.RecordOperationRequest;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.api.v1.ResetFromSnapshotResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.SetRoleResponse;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.api.v1.SnapshotRequest;
import io.meridian.api.v1.SnapshotResponse;
import io.meridian.api.v1.SnapshotStreamRequest;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.api.v1.TransferLeadershipRequest;
import io.meridian.api.v1.TransferLeadershipResponse;
import io.meridian.cluster.backup.SnapshotReceiver;
import io.meridian.cluster.backup.SnapshotSender;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.node.Membership;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.state.ShardState;
import io.meridian.cluster.state.StateStats;
import io.meridian.serving.Replies;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.ratis.server.DivisionInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Status and membership of this node's region cluster, served from local state; membership changes
 * and leadership transfers, answered by the shard's leader.
 */
public final class ClusterService extends ClusterGrpc.ClusterImplBase {
  private static final Logger log = LoggerFactory.getLogger(ClusterService.class);

  private final Shards<ShardReplica> shards;
  private final NodeConfig config;
  // Describes and writes frozen states for snapshot streams, one thread per stream at most: a
  // stream waits on its reader (flow control), never on an event loop or the apply thread.
  private final ExecutorService snapshotStreams =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "snapshot-stream");
            t.setDaemon(true);
            return t;
          });

  public ClusterService(Shards<ShardReplica> shards, NodeConfig config) {
    this.shards = shards;
    this.config = config;
  }

  /**
   * Streams the applied state of the shard the request names, as this member has it: frozen under
   * the state's read lock (so it is one applied state, and no apply waits beyond the O(1) freeze),
   * then described and written from a background thread at the reader's pace.
   */
  @Override
  public void snapshotStream(
      SnapshotStreamRequest request, StreamObserver<SnapshotChunk> observer) {
    ServerCallStreamObserver<SnapshotChunk> call =
        (ServerCallStreamObserver<SnapshotChunk>) observer;
    ServiceRequestContext.current().clearRequestTimeout();
    ShardReplica replica;
    try {
      replica = shards.forRequest();
    } catch (MeridianException e) {
      observer.onError(e);
      return;
    }
    ShardState.Frozen frozen = replica.read(ShardState::freeze);
    SnapshotManifest origin =
        SnapshotManifest.newBuilder()
            .setCreatedMs(replica.clock().nowMillis())
            .setRegion(config.region())
            .setMember(config.member())
            .build();
    SnapshotSender.start(frozen, origin, call, snapshotStreams, replica.clock());
  }

  /**
   * Resets the shard the request names from the snapshot streamed in, through its log (see {@link
   * SnapshotReceiver}): every member of this cluster swaps in the same state at the same index.
   */
  @Override
  public StreamObserver<SnapshotChunk> resetFromSnapshot(
      StreamObserver<ResetFromSnapshotResponse> observer) {
    ServerCallStreamObserver<ResetFromSnapshotResponse> call =
        (ServerCallStreamObserver<ResetFromSnapshotResponse>) observer;
    // A large body takes as long as the log takes to commit it.
    ServiceRequestContext.current().clearRequestTimeout();
    ShardReplica replica;
    try {
      replica = shards.forRequest();
    } catch (MeridianException e) {
      observer.onError(e);
      return new NoChunks();
    }
    return SnapshotReceiver.start(replica, config.region(), config.member(), call);
  }

  /** The observer of a call refused at once: whatever the caller still sends is dropped. */
  private static final class NoChunks implements StreamObserver<SnapshotChunk> {
    @Override
    public void onNext(SnapshotChunk chunk) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  /** Stops the threads of snapshot streams still running (the node is closing). */
  public void close() {
    snapshotStreams.shutdownNow();
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          StatusResponse.Builder b = StatusResponse.newBuilder();
          for (ShardReplica replica : shards.all()) {
            b.addShards(status(replica));
          }
          b.setHeader(b.getShards(0).getHeader());
          return CompletableFuture.completedFuture(b.build());
        });
  }

  private static ShardStatus status(ShardReplica replica) {
    ShardStatus.Builder b = ShardStatus.newBuilder();
    replica.read(
        s -> {
          StateStats stats = s.stats();
          b.setSelfPreservation(stats.selfPreservation())
              .setRegistryInstances(stats.registryInstances())
              .setCompactRevision(s.compactRevision())
              .setKeys(stats.keys())
              .setLeases(stats.leases())
              .setLockHolders(stats.lockHolders())
              .setLockWaiters(stats.lockWaiters())
              .setStateBytes(stats.stateBytes())
              .setQuotaBytes(stats.quotaBytes())
              .addAllEpochHistory(s.epochHistory())
              .setReplication(s.replicationState());
          if (stats.noSpaceAlarm()) {
            b.addAlarms("NO_SPACE");
          }
          if (stats.selfPreservation()) {
            b.addAlarms("SELF_PRESERVATION");
          }
          if (!s.writeAuthorityLost().isEmpty()) {
            b.addAlarms("WRITE_AUTHORITY_LOST");
          }
          s.promotionWait()
              .ifPresent(
                  w ->
                      b.addAlarms("PROMOTION_WAIT")
                          .setPromotionWritesUntilMs(w.getWritesUntilMs())
                          .setPromotionLocksUntilMs(w.getLocksUntilMs()));
          return null;
        });
    long behindSince = b.getReplication().getLag().getBehindSinceMs();
    if (behindSince > 0) {
      b.setReplicationLagMs(Math.max(0, replica.clock().nowMillis() - behindSince));
    }
    DivisionInfo info = replica.info();
    if (info != null) {
      b.setAppliedIndex(info.getLastAppliedIndex());
      b.setCommitIndex(replica.commitIndex());
    }
    return b.setHeader(replica.header(ResponseHeader.getDefaultInstance())).build();
  }

  @Override
  public void snapshot(SnapshotRequest request, StreamObserver<SnapshotResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          SnapshotResponse.Builder b = SnapshotResponse.newBuilder();
          CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
          for (ShardReplica replica : shards.all()) {
            all =
                all.thenCompose(
                    v ->
                        replica
                            .snapshot()
                            .thenAccept(
                                index -> {
                                  synchronized (b) {
                                    b.putSnapshotIndex(replica.shard(), index);
                                  }
                                }));
          }
          ShardReplica first = shards.all().iterator().next();
          return all.thenApply(
              v -> b.setHeader(first.header(ResponseHeader.getDefaultInstance())).build());
        });
  }

  @Override
  public void transferLeadership(
      TransferLeadershipRequest request, StreamObserver<TransferLeadershipResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          if (request.getTo().isEmpty()) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "to: empty (expected: the member id of a voter of the shard, e.g. n2)");
          }
          long timeoutMs = request.getTimeoutMs() == 0 ? 10_000 : request.getTimeoutMs();
          if (timeoutMs < 0 || timeoutMs > 60_000) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "timeout_ms: %d (expected: 0..60000; 0 waits 10000)",
                request.getTimeoutMs());
          }
          ServiceRequestContext.current()
              .setRequestTimeout(
                  TimeoutMode.SET_FROM_NOW, java.time.Duration.ofMillis(timeoutMs + 5_000));
          ShardReplica replica = shards.forRequest();
          return replica
              .transferLeadership(request.getTo(), timeoutMs)
              .thenApply(
                  moved ->
                      TransferLeadershipResponse.newBuilder()
                          .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
                          .setLeader(request.getTo())
                          .build());
        });
  }

  @Override
  public void setRole(SetRoleRequest request, StreamObserver<SetRoleResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          if (request.getRole() != Role.PRIMARY
              && request.getRole() != Role.STANDBY
              && request.getRole() != Role.FENCED) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "role: %s (expected: PRIMARY, STANDBY or FENCED)",
                request.getRole());
          }
          long holdWritesMs = 0;
          if (request.getOldPrimaryUnfenced()) {
            holdWritesMs = config.replication().writeAuthorityMs();
            if (holdWritesMs <= 0) {
              throw MeridianException.of(
                  Error.Code.FAILED_PRECONDITION,
                  "old_primary_unfenced: true, but replication.write-authority-ms is 0 on member"
                      + " %s (expected: > 0, the limit the old primary stops writing within; an"
                      + " old primary without it never stops: fence it instead)",
                  config.member());
            }
          }
          ShardReplica replica = shards.forRequest();
          Command command =
              Command.newBuilder()
                  .setSetRole(
                      io.meridian.cluster.proto.SetRole.newBuilder()
                          .setRole(request.getRole())
                          .setEpoch(request.getEpoch())
                          .setLeasePolicyValue(request.getLeasePolicyValue())
                          .setOldPrimaryUnfenced(request.getOldPrimaryUnfenced())
                          .setHoldWritesMs(holdWritesMs))
                  .build();
          // The role and epoch are the request's once it committed; this member may not have
          // applied it yet, so they are not read back from its state.
          return Calls.propose(
              replica,
              command,
              r -> {
                long revision = replica.read(ShardState::revision);
                log.info(
                    "shard={} region={} member={} role set to {} at epoch {}, revision={}",
                    replica.shard(),
                    config.region(),
                    config.member(),
                    request.getRole(),
                    request.getEpoch(),
                    revision);
                return SetRoleResponse.newBuilder()
                    .setHeader(
                        ResponseHeader.newBuilder()
                            .setRole(request.getRole())
                            .setEpoch(request.getEpoch())
                            .setRevision(revision))
                    .build();
              });
        });
  }

  @Override
  public void recordOperation(
      RecordOperationRequest request, StreamObserver<RecordOperationResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica replica = shards.forRequest();
          return Calls.propose(
              replica,
              Command.newBuilder().setRecordOperation(request).build(),
              r -> {
                RecordOperationResponse out = r.getRecordOperation();
                if (request.getAction() != RecordOperationRequest.Action.READ) {
                  // One line per recorded step: the audit trail of who did what to the shard.
                  log.info(
                      "shard={} region={} operation {} {}{} by {}, revision={}",
                      replica.shard(),
                      config.region(),
                      request.getOperation().getId(),
                      request.getAction().name().toLowerCase(java.util.Locale.ROOT),
                      request.getAction() == RecordOperationRequest.Action.STEP
                          ? " " + request.getStep().getName() + ": " + request.getStep().getResult()
                          : request.getAction() == RecordOperationRequest.Action.FINISH
                              ? " " + request.getOutcome()
                              : "",
                      request.getHolder(),
                      out.getHeader().getRevision());
                }
                return out;
              });
        });
  }

  @Override
  public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica first = shards.all().iterator().next();
          MemberListResponse.Builder b =
              MemberListResponse.newBuilder()
                  .setHeader(first.header(ResponseHeader.getDefaultInstance()));
          Map<String, Member.Builder> byId = new LinkedHashMap<>();
          for (ShardReplica replica : shards.all()) {
            for (Membership.Peer p : peers(replica)) {
              byId.computeIfAbsent(p.id(), id -> member(p)).addShards(place(p, replica));
            }
          }
          byId.values().forEach(b::addMembers);
          return CompletableFuture.completedFuture(b.build());
        });
  }

  @Override
  public void memberAdd(MemberAddRequest request, StreamObserver<MemberAddResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica replica = shards.forRequest();
          allowChangeTime();
          return replica
              .membership()
              .add(request.getId(), request.getPeerAddress(), request.getClientUrl())
              .thenApply(
                  v ->
                      MemberAddResponse.newBuilder()
                          .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
                          .addAllMembers(members(replica, peers(replica)))
                          .build());
        });
  }

  @Override
  public void memberPromote(
      MemberPromoteRequest request, StreamObserver<MemberPromoteResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica replica = shards.forRequest();
          allowChangeTime();
          return replica
              .membership()
              .promote(request.getId())
              .thenApply(
                  v ->
                      MemberPromoteResponse.newBuilder()
                          .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
                          .addAllMembers(members(replica, peers(replica)))
                          .build());
        });
  }

  @Override
  public void memberRemove(
      MemberRemoveRequest request, StreamObserver<MemberRemoveResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica replica = shards.forRequest();
          allowChangeTime();
          return replica
              .membership()
              .remove(request.getId(), request.getForce())
              .thenApply(
                  after ->
                      MemberRemoveResponse.newBuilder()
                          .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
                          .addAllMembers(members(replica, after))
                          .build());
        });
  }

  /** A membership change may wait for a new listener to catch up, or for leadership to move. */
  private static void allowChangeTime() {
    ServiceRequestContext.current()
        .setRequestTimeout(
            TimeoutMode.SET_FROM_NOW,
            java.time.Duration.ofMillis(Membership.CHANGE_TIMEOUT_MS + 15_000));
  }

  /**
   * The shard's members as this node's Raft configuration records them; this node's config if its
   * division is gone.
   */
  private List<Membership.Peer> peers(ShardReplica replica) {
    List<Membership.Peer> peers = replica.membership().members();
    if (!peers.isEmpty()) {
      return peers;
    }
    return config.members().stream()
        .map(
            m ->
                new Membership.Peer(
                    m.id(), m.peer(), m.client(), m.role() == NodeConfig.MemberRole.LISTENER))
        .toList();
  }

  private List<Member> members(ShardReplica replica, List<Membership.Peer> peers) {
    return peers.stream().map(p -> member(p).addShards(place(p, replica)).build()).toList();
  }

  private Member.Builder member(Membership.Peer p) {
    return Member.newBuilder()
        .setId(p.id())
        .setPeerAddress(p.peerAddress())
        .setClientUrl(p.clientUrl())
        .setRegion(config.region());
  }

  /** Member {@code p}'s role in {@code replica}'s group; the indices only for this node. */
  private MemberShard place(Membership.Peer p, ShardReplica replica) {
    MemberShard.Builder b = MemberShard.newBuilder().setShard(replica.shard());
    DivisionInfo info = replica.info();
    String leader = info == null || info.getLeaderId() == null ? "" : info.getLeaderId().toString();
    if (p.id().equals(config.member()) && info != null) {
      return b.setRole(info.getCurrentRole().name())
          .setAppliedIndex(info.getLastAppliedIndex())
          .setCommitIndex(replica.commitIndex())
          .build();
    }
    if (p.listener()) {
      return b.setRole("LISTENER").build();
    }
    return b.setRole(p.id().equals(leader) ? "LEADER" : "FOLLOWER").build();
  }
}
