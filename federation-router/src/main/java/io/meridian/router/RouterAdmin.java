package io.meridian.router;

import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.GetTableRequest;
import io.meridian.api.v1.ReplaceTableRequest;
import io.meridian.api.v1.RouterAdminGrpc;
import io.meridian.api.v1.RoutingTableResponse;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;

/**
 * The router's admin API ({@code GET/POST /v1/router/table} and gRPC): the table served, and its
 * replacement by a valid table of a higher version (what {@code meridianctl} failover's redirect
 * step calls). Authentication comes with the security issue.
 */
final class RouterAdmin extends RouterAdminGrpc.RouterAdminImplBase {
  private final Router router;

  RouterAdmin(Router router) {
    this.router = router;
  }

  @Override
  public void getTable(GetTableRequest req, StreamObserver<RoutingTableResponse> out) {
    Replies.reply(
        out,
        () -> {
          RoutingTable t = router.table();
          return CompletableFuture.completedFuture(
              RoutingTableResponse.newBuilder()
                  .setVersion(t.version())
                  .setTable(t.text())
                  .setRegion(router.config().region())
                  .build());
        });
  }

  @Override
  public void replaceTable(ReplaceTableRequest req, StreamObserver<RoutingTableResponse> out) {
    Replies.reply(
        out,
        () -> {
          RoutingTable next = RoutingTable.parse(req.getTable());
          RoutingTable previous = router.replace(next);
          return CompletableFuture.completedFuture(
              RoutingTableResponse.newBuilder()
                  .setVersion(next.version())
                  .setTable(next.text())
                  .setPreviousVersion(previous.version())
                  .setRegion(router.config().region())
                  .build());
        });
  }
}
