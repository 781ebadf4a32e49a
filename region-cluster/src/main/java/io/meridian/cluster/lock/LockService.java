package io.meridian.cluster.lock;

import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.LockReleaseResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.LockAcquireResult;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fenced locks. An acquire that cannot be granted at once waits as a committed waiter; the grant is
 * a committed command too, observed on this node when it applies it (or read from its applied
 * state, see {@link LockWaits}). When the caller's timeout passes, this node proposes the waiter's
 * cancellation and answers from the state once it is applied: the grant, if it came first. The
 * leader also sweeps waiters past their deadline, so a waiter whose node died does not stay queued.
 */
public final class LockService extends LockGrpc.LockImplBase {
  private final Shards<? extends LockReplica> shards;
  private final NodeConfig.Lock limits;

  public LockService(Shards<? extends LockReplica> shards, NodeConfig.Lock limits) {
    this.shards = shards;
    this.limits = limits;
  }

  @Override
  public void acquire(LockAcquireRequest request, StreamObserver<LockAcquireResponse> observer) {
    Replies.reply(observer, () -> acquire(request));
  }

  private CompletableFuture<LockAcquireResponse> acquire(LockAcquireRequest request) {
    if (request.getTimeoutMs() < 0 || request.getTimeoutMs() > limits.maxWaitMs()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "timeout_ms: %d (expected: 0..%d)",
          request.getTimeoutMs(),
          limits.maxWaitMs());
    }
    LockReplica replica = shards.forLease(request.getLease());
    LockWaits.Wait wait = replica.lockWaits().register(request.getName(), request.getLease());
    Command command =
        Command.newBuilder()
            .setRequestId(request.getRequestId())
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName(request.getName())
                    .setLease(request.getLease())
                    .setMode(request.getMode())
                    .setHierarchical(request.getHierarchical())
                    .setTimeoutMs(request.getTimeoutMs()))
            .build();
    return replica
        .propose(command)
        .thenCompose(
            r -> {
              if (r.hasError()) {
                wait.cancel();
                throw MeridianException.fromError(r.getError());
              }
              LockAcquireResult result = r.getLockAcquire();
              if (result.getGranted()) {
                wait.cancel();
                LockAcquireResponse response = result.getResponse();
                return CompletableFuture.completedFuture(Calls.served(replica, response));
              }
              wait.arm(result.getResponse().getHeader().getRevision());
              scheduleCancel(replica, request, wait);
              return wait.future().thenApply(g -> granted(replica, request, g));
            })
        .whenComplete(
            (r, t) -> {
              if (t != null) {
                wait.cancel();
              }
            });
  }

  /**
   * At the caller's timeout, withdraws the waiter; the wait then ends from the applied state: with
   * the grant if it came first, else LOCK_TIMEOUT. A caller is never told it timed out while its
   * lease holds the lock.
   */
  private static void scheduleCancel(
      LockReplica replica, LockAcquireRequest request, LockWaits.Wait wait) {
    CompletableFuture.delayedExecutor(request.getTimeoutMs(), TimeUnit.MILLISECONDS)
        .execute(
            () -> {
              if (wait.future().isDone()) {
                return;
              }
              replica
                  .propose(
                      Command.newBuilder()
                          .setLockCancel(
                              LockCancel.newBuilder()
                                  .addWaiters(
                                      LockCancel.Waiter.newBuilder()
                                          .setName(request.getName())
                                          .setLease(request.getLease())))
                          .build())
                  .whenComplete(
                      (r, t) -> {
                        if (t == null && r.hasLockCancel()) {
                          wait.settle(r.getLockCancel().getRevision());
                        } else {
                          wait.settleNow();
                        }
                      });
            });
  }

  private static LockAcquireResponse granted(
      LockReplica replica, LockAcquireRequest request, LockWaits.Grant g) {
    return LockAcquireResponse.newBuilder()
        .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
        .setName(request.getName())
        .setLease(request.getLease())
        .setFencingToken(g.token())
        .setKey(g.key())
        .build();
  }

  @Override
  public void release(LockReleaseRequest request, StreamObserver<LockReleaseResponse> observer) {
    Calls.propose(
        observer,
        () -> shards.forLease(request.getLease()),
        Command.newBuilder().setRequestId(request.getRequestId()).setLockRelease(request).build(),
        CommandResult::getLockRelease);
  }

  @Override
  public void inspect(LockInspectRequest request, StreamObserver<LockInspectResponse> observer) {
    Calls.read(
        observer,
        shards::forRequest,
        Query.newBuilder().setLockInspect(request).build(),
        request.getConsistency(),
        QueryResult::getLockInspect);
  }
}
