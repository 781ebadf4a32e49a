package io.meridian.router;

import static io.meridian.serving.Replies.reply;

import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.LockReleaseResponse;
import io.meridian.client.Stubs;

/**
 * Locks through the router: the lock's name (a key path) picks the shard, and every call goes to
 * its primary region, where fencing tokens are issued. An acquire may wait as long as it asked.
 */
final class RoutedLock extends LockGrpc.LockImplBase {
  private final Router router;

  RoutedLock(Router router) {
    this.router = router;
  }

  private RoutingTable.Shard shardOf(String name) {
    return KeySpan.of(name, "", false).oneShard(router.table(), "lock name");
  }

  @Override
  public void acquire(LockAcquireRequest given, StreamObserver<LockAcquireResponse> out) {
    LockAcquireRequest req = router.identified(given);
    reply(
        out,
        () ->
            router.primary(
                shardOf(req.getName()),
                router.deadline(req.getTimeoutMs()),
                (stubs, d) -> Stubs.call(stubs.lock().withDeadline(d)::acquire, req, true)));
  }

  @Override
  public void release(LockReleaseRequest given, StreamObserver<LockReleaseResponse> out) {
    LockReleaseRequest req = router.identified(given);
    reply(
        out,
        () ->
            router.primary(
                shardOf(req.getName()),
                router.deadline(),
                (stubs, d) -> Stubs.call(stubs.lock().withDeadline(d)::release, req, true)));
  }

  @Override
  public void inspect(LockInspectRequest req, StreamObserver<LockInspectResponse> out) {
    reply(
        out,
        () ->
            router.primary(
                shardOf(req.getName()),
                router.deadline(),
                (stubs, d) -> Stubs.call(stubs.lock().withDeadline(d)::inspect, req, true)));
  }
}
