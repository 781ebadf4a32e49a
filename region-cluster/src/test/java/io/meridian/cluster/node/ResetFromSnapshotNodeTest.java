package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ResetFromSnapshotResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotStreamRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.state.ShardState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Cluster.ResetFromSnapshot}: an old primary region, fenced after a failover, reset online
 * from the new primary's snapshot stream.
 */
@Tag("cluster")
class ResetFromSnapshotNodeTest {
  @TempDir Path dir;
  private DevCluster east;
  private DevCluster west;

  @BeforeEach
  void start() throws Exception {
    // east: the new primary (one member, for speed); west: the old primary, three members.
    east = DevCluster.plan(dir.resolve("east"), 1, "east", TestClusters.fast()).start();
    west = DevCluster.plan(dir.resolve("west"), 3, "west", TestClusters.fast()).start();
    TestClusters.awaitReady(east);
    TestClusters.awaitReady(west);
  }

  @AfterEach
  void stop() {
    if (west != null) {
      west.close();
    }
    if (east != null) {
      east.close();
    }
  }

  private static ClusterGrpc.ClusterStub async(MeridianNode node) {
    return GrpcClients.builder(node.clientUrl())
        .responseTimeout(Duration.ZERO)
        .build(ClusterGrpc.ClusterStub.class);
  }

  private static ClusterGrpc.ClusterBlockingStub blocking(MeridianNode node) {
    return GrpcClients.builder(node.clientUrl())
        .responseTimeout(Duration.ZERO)
        .maxResponseLength(0)
        .build(ClusterGrpc.ClusterBlockingStub.class);
  }

  /** Streams {@code chunks} into {@code to}'s ResetFromSnapshot; completes with its answer. */
  private static CompletableFuture<ResetFromSnapshotResponse> reset(
      MeridianNode to, Iterator<SnapshotChunk> chunks) {
    CompletableFuture<ResetFromSnapshotResponse> answer = new CompletableFuture<>();
    StreamObserver<SnapshotChunk> call =
        async(to)
            .resetFromSnapshot(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ResetFromSnapshotResponse r) {
                    answer.complete(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    answer.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    while (chunks.hasNext()) {
      call.onNext(chunks.next());
    }
    call.onCompleted();
    return answer;
  }

  private static ShardState.Frozen frozen(MeridianNode node) {
    return node.replicas().get(0).read(ShardState::freeze);
  }

  private static byte[] contentHash(MeridianNode node) {
    return node.replicas().get(0).read(ShardState::contentHash);
  }

  @Test
  void aFencedRegionTakesThePrimarysStateOnEveryMemberAndFollowsItsChain() throws Exception {
    Clients primary = Clients.of(east.node(0));
    primary.put("/app/a", "1");
    // Big values, so the body takes several parts.
    for (int i = 0; i < 3; i++) {
      primary.put("/app/big" + i, "x".repeat(500_000));
    }
    primary
        .cluster()
        .setRole(SetRoleRequest.newBuilder().setRole(Role.PRIMARY).setEpoch(2).build());
    primary.put("/app/a", "2");

    int westLeader = TestClusters.awaitReady(west);
    Clients old = Clients.of(west.node(westLeader));
    for (int i = 0; i < 8; i++) {
      old.put("/app/w" + i, "divergent " + i);
    }
    Watcher watcher = Watcher.open(west.node((westLeader + 1) % 3).clientUrl());
    watcher.watchPrefix(1, "/app/", 0);
    watcher.await(r -> r.getWatchId() == 1 && r.getCreated());
    old.cluster().setRole(SetRoleRequest.newBuilder().setRole(Role.FENCED).setEpoch(2).build());

    // A primary refuses before any body is staged.
    Throwable refused =
        reset(east.node(0), blocking(east.node(0)).snapshotStream(request()))
            .handle((r, t) -> t)
            .get(60, TimeUnit.SECONDS);
    assertThat(Clients.code(refused)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(refused.getMessage()).contains("fence it first");

    // Streamed into a follower of west: its proposals go through west's leader.
    MeridianNode receiver = west.node((westLeader + 2) % 3);
    ResetFromSnapshotResponse done =
        reset(receiver, blocking(east.node(0)).snapshotStream(request())).get(60, TimeUnit.SECONDS);
    long revision = frozen(east.node(0)).revision();
    assertThat(done.getHeader().getRole()).isEqualTo(Role.STANDBY);
    assertThat(done.getHeader().getEpoch()).isEqualTo(2);
    assertThat(done.getHeader().getRevision()).isEqualTo(revision);
    assertThat(done.getManifest().getRegion()).isEqualTo("east");
    assertThat(done.getManifest().getBodyBytes()).isGreaterThan(1_500_000);

    byte[] content = contentHash(east.node(0));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (MeridianNode n : west.nodes()) {
                assertThat(contentHash(n)).isEqualTo(content);
                assertThat(n.replicas().get(0).read(ShardState::revision)).isEqualTo(revision);
                assertThat(n.replicas().get(0).read(ShardState::role)).isEqualTo(Role.STANDBY);
                assertThat(n.replicas().get(0).read(ShardState::epochHistory))
                    .isEqualTo(east.node(0).replicas().get(0).read(ShardState::epochHistory));
              }
            });

    // The watch had seen west's own revisions, which the new state does not have.
    WatchResponse broken = watcher.await(r -> r.getWatchId() == 1 && r.getCanceled());
    assertThat(broken.getError().getCode()).isEqualTo(Error.Code.HISTORY_DIVERGED);

    // The bridge's sink continues east's chain on west.
    primary.put("/app/after", "3");
    List<ChangeBatch> next =
        east.node(0).replicas().get(0).read(s -> s.changeBatches(0, revision, 100));
    assertThat(next).hasSize(1);
    ApplyReplicatedResponse applied =
        GrpcClients.builder(west.node(westLeader).clientUrl())
            .responseTimeout(Duration.ofSeconds(30))
            .build(ReplicationGrpc.ReplicationBlockingStub.class)
            .applyReplicated(ApplyReplicatedRequest.newBuilder().addAllBatches(next).build());
    assertThat(applied.getApplied()).isEqualTo(1);
    byte[] after = contentHash(east.node(0));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (MeridianNode n : west.nodes()) {
                assertThat(contentHash(n)).isEqualTo(after);
              }
            });
    // A new watch on west from the reset revision sees east's next change.
    watcher.watchPrefix(2, "/app/", revision + 1);
    watcher.awaitEvents(2, 1);
    assertThat(watcher.events(2).get(0).getKv().getKey()).isEqualTo("/app/after");
    watcher.close();
  }

  private static SnapshotStreamRequest request() {
    return SnapshotStreamRequest.getDefaultInstance();
  }
}
