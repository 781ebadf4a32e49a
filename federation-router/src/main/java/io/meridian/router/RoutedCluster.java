package io.meridian.router;

import static io.meridian.serving.Replies.reply;

import io.grpc.Deadline;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.ClusterGrpc.ClusterStub;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.SnapshotRequest;
import io.meridian.api.v1.SnapshotResponse;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.client.Stubs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The federation's state through a router. Status asks every region cluster of every shard and
 * lists each one's shard status; one that cannot answer is listed with its table role and an {@code
 * UNREACHABLE} alarm rather than failing the whole answer. MemberList lists the members of every
 * region cluster. Snapshot goes to the primary region of the shard named by the {@code
 * meridian-shard} header.
 */
final class RoutedCluster extends ClusterGrpc.ClusterImplBase {
  private final Router router;

  RoutedCluster(Router router) {
    this.router = router;
  }

  @Override
  public void status(StatusRequest req, StreamObserver<StatusResponse> out) {
    reply(
        out,
        () -> {
          RoutingTable table = router.table();
          Deadline deadline = router.deadline();
          List<CompletableFuture<ShardStatus>> parts = new ArrayList<>();
          for (RoutingTable.Shard shard : table.shards().values()) {
            for (RoutingTable.Region region : shard.regions()) {
              parts.add(statusOf(shard, region, req, deadline));
            }
          }
          return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
              .thenApply(
                  v -> {
                    StatusResponse.Builder all =
                        StatusResponse.newBuilder().setHeader(routerHeader());
                    parts.forEach(p -> all.addShards(p.join()));
                    return all.build();
                  });
        });
  }

  private CompletableFuture<ShardStatus> statusOf(
      RoutingTable.Shard shard, RoutingTable.Region region, StatusRequest req, Deadline deadline) {
    return router
        .at(shard, region, deadline, UpstreamCall.of(req, Stubs::cluster, ClusterStub::status))
        .handle(
            (status, failure) -> {
              if (failure == null) {
                for (ShardStatus s : status.getShardsList()) {
                  if (s.getHeader().getShard() == shard.id()) {
                    return s;
                  }
                }
              }
              String why =
                  failure == null
                      ? "its members do not serve shard " + shard.id()
                      : Router.unwrap(failure).getMessage();
              return ShardStatus.newBuilder()
                  .setHeader(
                      ResponseHeader.newBuilder()
                          .setShard(shard.id())
                          .setRegion(region.region())
                          .setRole(region.role())
                          .setEpoch(region.epoch()))
                  .addAlarms("UNREACHABLE: " + why)
                  .build();
            });
  }

  @Override
  public void memberList(MemberListRequest req, StreamObserver<MemberListResponse> out) {
    reply(
        out,
        () -> {
          RoutingTable table = router.table();
          Deadline deadline = router.deadline();
          // One call per region cluster endpoint set: nodes often host several shards.
          Map<String, CompletableFuture<MemberListResponse>> byCluster = new LinkedHashMap<>();
          for (RoutingTable.Shard shard : table.shards().values()) {
            for (RoutingTable.Region region : shard.regions()) {
              byCluster.computeIfAbsent(
                  region.region() + region.endpoints(),
                  k ->
                      router
                          .at(
                              shard,
                              region,
                              deadline,
                              UpstreamCall.of(req, Stubs::cluster, ClusterStub::memberList))
                          .exceptionally(failure -> unreachable(shard, region)));
            }
          }
          return CompletableFuture.allOf(byCluster.values().toArray(CompletableFuture[]::new))
              .thenApply(
                  v -> {
                    Map<String, Member> members = new LinkedHashMap<>();
                    byCluster
                        .values()
                        .forEach(
                            f ->
                                f.join()
                                    .getMembersList()
                                    .forEach(m -> members.put(m.getRegion() + "/" + m.getId(), m)));
                    return MemberListResponse.newBuilder()
                        .setHeader(routerHeader())
                        .addAllMembers(members.values())
                        .build();
                  });
        });
  }

  /**
   * A region cluster that did not answer, as its table endpoints with the role {@code UNREACHABLE}:
   * listed, so that status shows it down, rather than failing the whole list.
   */
  private static MemberListResponse unreachable(
      RoutingTable.Shard shard, RoutingTable.Region region) {
    MemberListResponse.Builder b = MemberListResponse.newBuilder();
    for (java.net.URI endpoint : region.endpoints()) {
      b.addMembers(
          Member.newBuilder()
              .setId(endpoint.getAuthority())
              .setClientUrl(endpoint.toString())
              .setRegion(region.region())
              .addShards(
                  io.meridian.api.v1.MemberShard.newBuilder()
                      .setShard(shard.id())
                      .setRole("UNREACHABLE")));
    }
    return b.build();
  }

  @Override
  public void snapshot(SnapshotRequest req, StreamObserver<SnapshotResponse> out) {
    router.forward(req, out, Router.byHeader("a snapshot"), Stubs::cluster, ClusterStub::snapshot);
  }

  private ResponseHeader routerHeader() {
    return ResponseHeader.newBuilder().setRegion(router.config().region()).build();
  }
}
