package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.backup.RestoredMember;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.config.ClusterIdentity;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.kv.KeyRange;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A new cluster started from data directories {@link RestoredMember} built from one file. */
@Tag("cluster")
class RestoredClusterTest {
  @TempDir Path dir;

  @Test
  void everyMemberStartsFromTheSnapshotAndALaterMemberGetsItByInstall() throws Exception {
    Path file = dir.resolve("s0" + SnapshotFile.SUFFIX);
    try (DevCluster old = TestClusters.start(dir.resolve("old"))) {
      int leader = TestClusters.awaitReady(old);
      KVGrpc.KVBlockingStub kv =
          GrpcClients.newClient(old.node(leader).clientUrl(), KVGrpc.KVBlockingStub.class);
      for (int i = 0; i < 40; i++) {
        kv.put(
            PutRequest.newBuilder()
                .setKey("/a/k" + (i % 10))
                .setValue(ByteString.copyFromUtf8("v" + i))
                .build());
      }
      ShardReplica replica = old.node(leader).replicas().get(0);
      SnapshotFile.write(
          file, replica.read(ShardState::freeze), SnapshotManifest.newBuilder().build());
    }
    SnapshotManifest manifest = SnapshotFile.readManifest(file);

    DevCluster restored = DevCluster.plan(dir.resolve("new"), 3, "test", TestClusters.fast());
    List<NodeConfig> configs = restored.configs();
    List<RestoredMember.Peer> peers =
        configs.stream().map(c -> new RestoredMember.Peer(c.member(), c.self().peer())).toList();
    for (NodeConfig c : configs) {
      RestoredMember.write(
          SnapshotFile.verify(file).state(), Path.of(c.dataDir()), c.member(), peers, "test", "t1");
    }
    assertThatThrownBy(
            () ->
                RestoredMember.write(
                    SnapshotFile.verify(file).state(),
                    Path.of(configs.get(0).dataDir()),
                    "n1",
                    peers,
                    "test",
                    "t1"))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.FAILED_PRECONDITION))
        .hasMessageContaining("not empty");

    try (DevCluster cluster = restored.start()) {
      int leader = TestClusters.awaitReady(cluster);
      for (MeridianNode node : cluster.nodes()) {
        ShardReplica r = node.replicas().get(0);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> r.read(ShardState::revision) == manifest.getRevision());
        assertThat(HexFormat.of().formatHex(r.read(ShardState::contentHash)))
            .isEqualTo(HexFormat.of().formatHex(manifest.getStateHash().toByteArray()));
        assertThat(r.read(ShardState::compactRevision)).isEqualTo(manifest.getRevision());
        assertThatThrownBy(
                () ->
                    r.read(
                        s ->
                            s.changes(
                                KeyRange.of("/a/", "", true),
                                manifest.getRevision() - 5,
                                Long.MAX_VALUE)))
            .isInstanceOfSatisfying(
                MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.COMPACTED));
      }
      KVGrpc.KVBlockingStub kv =
          GrpcClients.newClient(cluster.node(leader).clientUrl(), KVGrpc.KVBlockingStub.class);
      assertThat(
              kv.range(RangeRequest.newBuilder().setKey("/a/k9").build())
                  .getKvs(0)
                  .getValue()
                  .toStringUtf8())
          .isEqualTo("v39");
      PutResponse put =
          kv.put(
              PutRequest.newBuilder()
                  .setKey("/a/new")
                  .setValue(ByteString.copyFromUtf8("x"))
                  .build());
      assertThat(put.getHeader().getRevision()).isEqualTo(manifest.getRevision() + 1);

      // A member whose directory is gone (as a member added later has none) gets the state by
      // install-snapshot: no member has a log before the snapshot.
      int other = (leader + 1) % 3;
      cluster.stop(other);
      Path data = Path.of(configs.get(other).dataDir());
      deleteTree(data);
      Files.createDirectories(data);
      ClusterIdentity.record(data, "t1");
      cluster.restart(other);
      ShardReplica rejoined = cluster.node(other).replicas().get(0);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> rejoined.read(ShardState::revision) == manifest.getRevision() + 1);
      assertThat(rejoined.stateMachine().snapshotInstalls()).isPositive();
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
