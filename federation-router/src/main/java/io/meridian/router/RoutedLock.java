package io.meridian.router;

import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.LockGrpc.LockStub;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.LockReleaseResponse;
import io.meridian.client.Stubs;
import java.util.function.Function;

/**
 * Locks through the router: the lock's name (a key path) picks the shard, and every call goes to
 * its primary region, where fencing tokens are issued. An acquire may wait as long as it asked.
 */
final class RoutedLock extends LockGrpc.LockImplBase {
  private final Router router;

  RoutedLock(Router router) {
    this.router = router;
  }

  private static Function<RoutingTable, RoutingTable.Shard> byName(String name) {
    return table -> KeySpan.of(name, "", false).oneShard(table, "lock name");
  }

  @Override
  public void acquire(LockAcquireRequest req, StreamObserver<LockAcquireResponse> out) {
    router.forward(
        router.identified(req),
        out,
        byName(req.getName()),
        req.getTimeoutMs(),
        Stubs::lock,
        LockStub::acquire);
  }

  @Override
  public void release(LockReleaseRequest req, StreamObserver<LockReleaseResponse> out) {
    router.forward(
        router.identified(req), out, byName(req.getName()), Stubs::lock, LockStub::release);
  }

  @Override
  public void inspect(LockInspectRequest req, StreamObserver<LockInspectResponse> out) {
    router.forward(req, out, byName(req.getName()), Stubs::lock, LockStub::inspect);
  }
}
