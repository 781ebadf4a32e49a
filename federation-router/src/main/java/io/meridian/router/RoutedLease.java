package io.meridian.router;

import static io.meridian.serving.Replies.reply;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LeaseGrpc.LeaseStub;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.LeaseTimeToLiveRequest;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.client.Stubs;
import java.util.concurrent.CompletableFuture;

/**
 * Leases through the router: a grant goes to its namespace's shard; every other call to the shard
 * encoded in the lease id; all at the shard's primary region. A list without a namespace is
 * gathered from every shard. A keep-alive stream is relayed as one renewal per message.
 */
final class RoutedLease extends LeaseGrpc.LeaseImplBase {
  private final Router router;

  RoutedLease(Router router) {
    this.router = router;
  }

  @Override
  public void grant(LeaseGrantRequest req, StreamObserver<LeaseGrantResponse> out) {
    router.forward(
        router.identified(req),
        out,
        Router.byNamespace(req.getNamespace()),
        Stubs::lease,
        LeaseStub::grant);
  }

  @Override
  public void renew(LeaseKeepAliveRequest req, StreamObserver<LeaseKeepAliveResponse> out) {
    reply(out, () -> renew(req));
  }

  private CompletableFuture<LeaseKeepAliveResponse> renew(LeaseKeepAliveRequest req) {
    return router.toPrimary(req, Router.byLease(req.getId()), 0, Stubs::lease, LeaseStub::renew);
  }

  @Override
  public StreamObserver<LeaseKeepAliveRequest> keepAlive(
      StreamObserver<LeaseKeepAliveResponse> responses) {
    ServerCallStreamObserver<LeaseKeepAliveResponse> out =
        (ServerCallStreamObserver<LeaseKeepAliveResponse>) responses;
    return new StreamObserver<>() {
      private boolean ended;

      @Override
      public void onNext(LeaseKeepAliveRequest req) {
        CompletableFuture<LeaseKeepAliveResponse> renewed;
        try {
          renewed = renew(req);
        } catch (RuntimeException e) {
          renewed = CompletableFuture.failedFuture(e);
        }
        renewed.whenComplete(
            (r, e) -> {
              synchronized (this) {
                if (ended || out.isCancelled()) {
                  return;
                }
                if (e != null) {
                  // As on a node: the stream ends with the first renewal that fails.
                  ended = true;
                  out.onError(Router.unwrap(e));
                } else {
                  out.onNext(r);
                }
              }
            });
      }

      @Override
      public void onError(Throwable t) {
        synchronized (this) {
          ended = true;
        }
      }

      @Override
      public void onCompleted() {
        synchronized (this) {
          if (!ended) {
            ended = true;
            out.onCompleted();
          }
        }
      }
    };
  }

  @Override
  public void revoke(LeaseRevokeRequest req, StreamObserver<LeaseRevokeResponse> out) {
    router.forward(
        router.identified(req), out, Router.byLease(req.getId()), Stubs::lease, LeaseStub::revoke);
  }

  @Override
  public void timeToLive(LeaseTimeToLiveRequest req, StreamObserver<LeaseTimeToLiveResponse> out) {
    router.forward(req, out, Router.byLease(req.getId()), Stubs::lease, LeaseStub::timeToLive);
  }

  @Override
  public void list(LeaseListRequest req, StreamObserver<LeaseListResponse> out) {
    reply(
        out,
        () -> {
          RoutingTable table = router.table();
          io.grpc.Deadline deadline = router.deadline();
          UpstreamCall<LeaseListResponse> call =
              UpstreamCall.of(req, Stubs::lease, LeaseStub::list);
          if (!req.getNamespace().isEmpty()) {
            return router.primary(
                Router.byNamespace(req.getNamespace()).apply(table), deadline, call);
          }
          return router
              .gather(table.shards().values(), s -> router.primary(s, deadline, call))
              .thenApply(
                  parts -> {
                    LeaseListResponse.Builder all = LeaseListResponse.newBuilder();
                    ResponseHeader.Builder header = ResponseHeader.newBuilder();
                    for (LeaseListResponse part : parts) {
                      all.addAllLeases(part.getLeasesList());
                      header.putShardRevisions(
                          part.getHeader().getShard(), part.getHeader().getRevision());
                    }
                    return all.setHeader(header).build();
                  });
        });
  }
}
