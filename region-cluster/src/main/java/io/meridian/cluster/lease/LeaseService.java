package io.meridian.cluster.lease;

import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.LeaseTimeToLiveRequest;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Replica;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;

/**
 * Leases. Grants and revokes go through Raft; keep-alives are answered by the leader from memory
 * once its leadership is confirmed (batched, decision 0012), so a renewal costs no log entry of its
 * own.
 */
public final class LeaseService extends LeaseGrpc.LeaseImplBase {
  private final Shards<?> shards;
  private final NodeConfig.Lease limits;

  public LeaseService(Shards<?> shards, NodeConfig.Lease limits) {
    this.shards = shards;
    this.limits = limits;
  }

  /**
   * A requested TTL in seconds (0: {@code defaultSeconds}) as milliseconds, within the bounds.
   *
   * @throws MeridianException INVALID_ARGUMENT outside {@code limits}' min and max
   */
  public static long ttlMs(long requestedSeconds, long defaultSeconds, NodeConfig.Lease limits) {
    long ttl = requestedSeconds == 0 ? defaultSeconds : requestedSeconds;
    if (ttl < limits.minTtlSeconds() || ttl > limits.maxTtlSeconds()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "ttl: %d (expected: %d..%d seconds)",
          requestedSeconds,
          limits.minTtlSeconds(),
          limits.maxTtlSeconds());
    }
    return ttl * 1000;
  }

  @Override
  public void grant(LeaseGrantRequest request, StreamObserver<LeaseGrantResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          long ttlMs = ttlMs(request.getTtl(), limits.defaultTtlSeconds(), limits);
          Replica replica =
              request.getId() == 0 ? shards.forRequest() : shards.forLease(request.getId());
          Command command =
              Command.newBuilder()
                  .setRequestId(request.getRequestId())
                  .setLeaseGrant(
                      LeaseGrant.newBuilder()
                          .setNamespace(request.getNamespace())
                          .setTtlMs(ttlMs)
                          .setId(request.getId()))
                  .build();
          return Calls.propose(replica, command, CommandResult::getLeaseGrant);
        });
  }

  @Override
  public void renew(
      LeaseKeepAliveRequest request, StreamObserver<LeaseKeepAliveResponse> observer) {
    Replies.reply(observer, () -> renew(request));
  }

  private CompletableFuture<LeaseKeepAliveResponse> renew(LeaseKeepAliveRequest request) {
    Replica replica = shards.forLease(request.getId());
    return Calls.readAtLeader(
        replica, Query.newBuilder().setLeaseRenew(request).build(), QueryResult::getLeaseRenew);
  }

  @Override
  public StreamObserver<LeaseKeepAliveRequest> keepAlive(
      StreamObserver<LeaseKeepAliveResponse> responses) {
    // Replies are sent in request order; a failed renewal ends the stream with its error.
    return new StreamObserver<>() {
      private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);

      @Override
      public synchronized void onNext(LeaseKeepAliveRequest request) {
        CompletableFuture<LeaseKeepAliveResponse> renewal;
        try {
          renewal = renew(request);
        } catch (RuntimeException e) {
          renewal = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<LeaseKeepAliveResponse> next = renewal;
        tail =
            tail.thenCompose(ignored -> next)
                .thenAccept(
                    response -> {
                      synchronized (responses) {
                        responses.onNext(response);
                      }
                    })
                .exceptionally(
                    t -> {
                      synchronized (responses) {
                        responses.onError(t);
                      }
                      return null;
                    });
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public synchronized void onCompleted() {
        tail.whenComplete(
            (v, t) -> {
              synchronized (responses) {
                responses.onCompleted();
              }
            });
      }
    };
  }

  @Override
  public void revoke(LeaseRevokeRequest request, StreamObserver<LeaseRevokeResponse> observer) {
    Calls.propose(
        observer,
        () -> shards.forLease(request.getId()),
        Command.newBuilder().setRequestId(request.getRequestId()).setLeaseRevoke(request).build(),
        CommandResult::getLeaseRevoke);
  }

  @Override
  public void timeToLive(
      LeaseTimeToLiveRequest request, StreamObserver<LeaseTimeToLiveResponse> observer) {
    // The leader holds the live deadline.
    Calls.readAtLeader(
        observer,
        () -> shards.forLease(request.getId()),
        Query.newBuilder().setLeaseTtl(request).build(),
        QueryResult::getLeaseTtl);
  }

  @Override
  public void list(LeaseListRequest request, StreamObserver<LeaseListResponse> observer) {
    Calls.read(
        observer,
        shards::forRequest,
        Query.newBuilder().setLeaseList(request).build(),
        request.getConsistency(),
        QueryResult::getLeaseList);
  }
}
