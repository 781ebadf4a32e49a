package io.meridian.cluster;

import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.ResponseHeader;
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
import io.meridian.cluster.backup.SnapshotSender;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.state.ShardState;
import io.meridian.cluster.state.StateStats;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.ratis.server.DivisionInfo;

/** Status and membership of this node's region cluster, served from local state. */
public final class ClusterService extends ClusterGrpc.ClusterImplBase {
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
  public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          ShardReplica first = shards.all().iterator().next();
          MemberListResponse.Builder b =
              MemberListResponse.newBuilder()
                  .setHeader(first.header(ResponseHeader.getDefaultInstance()));
          for (NodeConfig.Member m : config.members()) {
            Member.Builder member =
                Member.newBuilder()
                    .setId(m.id())
                    .setPeerAddress(m.peer())
                    .setClientUrl(m.client())
                    .setRegion(config.region());
            for (ShardReplica replica : shards.all()) {
              member.addShards(place(m.id(), replica));
            }
            b.addMembers(member);
          }
          return CompletableFuture.completedFuture(b.build());
        });
  }

  /** Member {@code id}'s role in {@code replica}'s group; the indices only for this node. */
  private MemberShard place(String id, ShardReplica replica) {
    MemberShard.Builder b = MemberShard.newBuilder().setShard(replica.shard());
    DivisionInfo info = replica.info();
    String leader = info == null || info.getLeaderId() == null ? "" : info.getLeaderId().toString();
    if (id.equals(config.member()) && info != null) {
      return b.setRole(info.getCurrentRole().name())
          .setAppliedIndex(info.getLastAppliedIndex())
          .setCommitIndex(replica.commitIndex())
          .build();
    }
    return b.setRole(id.equals(leader) ? "LEADER" : "FOLLOWER").build();
  }
}
