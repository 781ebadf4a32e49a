package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.Limits;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseTimeToLiveRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real 3-node region cluster over Ratis's gRPC transport on loopback. */
@Tag("cluster")
class RegionClusterTest {
  @TempDir Path dir;

  @Test
  void everyAcknowledgedWriteSurvivesTheLeaderStoppingMidStream() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      List<Clients> clients = new ArrayList<>();
      for (MeridianNode n : cluster.nodes()) {
        clients.add(Clients.of(n));
      }
      List<String> acked = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      for (int i = 0; i < 300 && System.nanoTime() < deadline; i++) {
        if (i == 100) {
          cluster.stop(leader);
        }
        String key = "/t/k" + i;
        // Retry on another node with the same request id: the write applies at most once.
        for (int attempt = 0; attempt < 20; attempt++) {
          int target = (i + attempt) % 3;
          if (cluster.node(target) == null) {
            continue;
          }
          try {
            clients
                .get(target)
                .kv()
                .put(
                    PutRequest.newBuilder()
                        .setKey(key)
                        .setValue(ByteString.copyFromUtf8("v" + i))
                        .setRequestId("req-" + i)
                        .build());
            acked.add(key);
            break;
          } catch (StatusRuntimeException e) {
            // Unavailable during the election: try again.
          }
        }
      }
      assertThat(acked).hasSizeGreaterThan(250);
      int survivor = (leader + 1) % 3;
      var range = clients.get(survivor).prefix("/t/");
      Set<String> present =
          range.getKvsList().stream().map(KeyValue::getKey).collect(Collectors.toSet());
      assertThat(present).containsAll(acked);
      // Every key was written once: retries with the same request id did not add versions.
      assertThat(range.getKvsList()).allSatisfy(kv -> assertThat(kv.getVersion()).isEqualTo(1));
      assertThat(TestClusters.awaitReady(cluster)).isNotEqualTo(leader);
    }
  }

  @Test
  void followerCatchesUpBySnapshotInstallLargerThanOneMessageAfterTheLeaderPurgedItsLog()
      throws Exception {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.get("raft")
        .putAll(Map.of("snapshot-threshold", 40, "log-segment-size-bytes", 4096, "purge-gap", 1));
    try (DevCluster cluster = TestClusters.start(dir, o)) {
      int leader = TestClusters.awaitReady(cluster);
      int follower = (leader + 1) % 3;
      cluster.stop(follower);
      Clients c = Clients.of(cluster.node(leader));
      // Large values make the snapshot bigger than one gRPC message (6 MB): it must go in chunks.
      for (int i = 0; i < 6; i++) {
        c.put("/snap/big" + i, "b".repeat(Limits.MAX_VALUE_BYTES - 1024));
      }
      for (int i = 0; i < 400; i++) {
        c.put("/snap/k" + i, "x".repeat(100));
      }
      ShardReplica leaderReplica = cluster.node(leader).replicas().get(0);
      await().atMost(Duration.ofSeconds(30)).until(() -> leaderReplica.logStartIndex() > 0);

      cluster.restart(follower);
      ShardReplica caughtUp = cluster.node(follower).replicas().get(0);
      long revision = leaderReplica.read(s -> s.revision());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> caughtUp.read(s -> s.revision()) >= revision);
      assertThat(caughtUp.stateMachine().snapshotInstalls()).isGreaterThanOrEqualTo(1);
      assertThat(caughtUp.logStartIndex()).isGreaterThan(0);
      var local =
          Clients.of(cluster.node(follower))
              .kv()
              .range(
                  RangeRequest.newBuilder()
                      .setKey("/snap/")
                      .setPrefix(true)
                      .setCountOnly(true)
                      .setConsistency(Consistency.SERIALIZABLE)
                      .build());
      assertThat(local.getCount()).isEqualTo(406);
    }
  }

  @Test
  void fullRestartRestoresRevisionKeysLeasesAndLockHolders() throws Exception {
    long revision;
    long lease;
    LockAcquireResponse held;
    Map<String, Map<String, Object>> o = TestClusters.fast();
    // Snapshot often so the restart goes through snapshot + log.
    o.get("raft").put("snapshot-threshold", 20);
    DevCluster cluster = TestClusters.start(dir, o);
    try {
      Clients c = Clients.of(cluster.node(0));
      for (int i = 0; i < 50; i++) {
        c.put("/r/k" + i, "v" + i);
      }
      lease =
          c.lease()
              .grant(LeaseGrantRequest.newBuilder().setNamespace("r").setTtl(600).build())
              .getId();
      held =
          c.lock()
              .acquire(
                  LockAcquireRequest.newBuilder().setName("/r/jobs/a").setLease(lease).build());
      // The grant's revision, the last write's: node 0's own status may not have applied it yet.
      revision = held.getHeader().getRevision();
      assertThat(revision).isEqualTo(52);
      // An on-demand snapshot as well as the automatic ones.
      var snapshot = c.cluster().snapshot(io.meridian.api.v1.SnapshotRequest.getDefaultInstance());
      long index = snapshot.getSnapshotIndexMap().get(0);
      assertThat(index).isGreaterThan(0);
      // It is on disk, under the index it answered, with its checksum.
      try (var files = java.nio.file.Files.walk(Path.of(cluster.node(0).config().dataDir()))) {
        assertThat(files.map(f -> f.getFileName().toString()))
            .anyMatch(n -> n.matches("snapshot\\.\\d+_" + index))
            .anyMatch(n -> n.matches("snapshot\\.\\d+_" + index + "\\.md5"));
      }
      // Asked again: that snapshot or a newer one (duties may have applied entries), never 0.
      assertThat(
              c.cluster()
                  .snapshot(io.meridian.api.v1.SnapshotRequest.getDefaultInstance())
                  .getSnapshotIndexMap()
                  .get(0))
          .isGreaterThanOrEqualTo(index);
    } finally {
      cluster.close();
    }
    for (int i = 0; i < 3; i++) {
      cluster.restart(i);
    }
    try {
      TestClusters.awaitReady(cluster);
      Clients c = Clients.of(cluster.node(1));
      assertThat(c.prefix("/r/k").getCount()).isEqualTo(50);
      var ttl = c.lease().timeToLive(LeaseTimeToLiveRequest.newBuilder().setId(lease).build());
      assertThat(ttl.getGrantedTtl()).isEqualTo(600);
      var lock = c.lock().inspect(LockInspectRequest.newBuilder().setName("/r/jobs/a").build());
      assertThat(lock.getHoldersList()).hasSize(1);
      assertThat(lock.getHolders(0).getFencingToken()).isEqualTo(held.getFencingToken());
      assertThat(lock.getHeader().getRevision()).isEqualTo(revision);
    } finally {
      cluster.close();
    }
  }

  @Test
  void automaticCompactionByAgeKeepsRecentHistoryOnly() throws Exception {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put(
        "storage",
        new HashMap<>(
            Map.of(
                "compaction-retention-revisions", 0,
                "compaction-retention-ms", 1000,
                "compaction-interval-ms", 200)));
    try (DevCluster cluster = TestClusters.start(dir, o)) {
      Clients c = Clients.of(cluster.node(0));
      c.put("/age/a", "1");
      c.put("/age/a", "2");
      ShardReplica replica = cluster.node(0).replicas().get(0);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> replica.read(s -> s.compactRevision()) >= 2);
      // The latest version always survives compaction.
      assertThat(c.prefix("/age/").getKvs(0).getValue().toStringUtf8()).isEqualTo("2");
    }
  }

  /**
   * A lease renewed just before its leader dies lives out the TTL that keep-alive promised under
   * the new leader (no renewal after the change), and then expires, passing its lock on.
   */
  @Test
  void leaderChangeDoesNotExpireLeasesEarlyAndExpiryReleasesLocks() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      int other = (leader + 1) % 3;
      Clients c = Clients.of(cluster.node(other));
      long a =
          c.lease()
              .grant(LeaseGrantRequest.newBuilder().setNamespace("l").setTtl(5).build())
              .getId();
      long b =
          c.lease()
              .grant(LeaseGrantRequest.newBuilder().setNamespace("l").setTtl(30).build())
              .getId();
      LockAcquireResponse first =
          c.lock().acquire(LockAcquireRequest.newBuilder().setName("/l/job").setLease(a).build());

      long renewed = System.nanoTime();
      c.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(a).build());
      cluster.stop(leader);
      TestClusters.awaitReady(cluster);
      // No renewal from here on: alive until the keep-alive's promise (5 s, less a margin).
      ShardReplica watched = cluster.node(other).replicas().get(0);
      long promised = renewed + TimeUnit.MILLISECONDS.toNanos(4_500);
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                boolean alive = watched.read(s -> s.lease(a).isPresent());
                assertThat(alive)
                    .as(
                        "alive %d ms after its keep-alive",
                        (System.nanoTime() - renewed) / 1_000_000)
                    .isTrue();
                return System.nanoTime() >= promised;
              });

      // Lease a stops renewing: it expires, its lock passes to the waiter b, fenced higher.
      LockAcquireResponse second =
          c.lock()
              .acquire(
                  LockAcquireRequest.newBuilder()
                      .setName("/l/job")
                      .setLease(b)
                      .setTimeoutMs(20_000)
                      .build());
      assertThat(second.getFencingToken()).isGreaterThan(first.getFencingToken());
      assertThatThrownBy(
              () -> c.lease().timeToLive(LeaseTimeToLiveRequest.newBuilder().setId(a).build()))
          .hasMessageContaining("NOT_FOUND");
    }
  }

  @Test
  void concurrentAcquiresOfOneLockAreServedOneAtATimeWithIncreasingTokens() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      List<Clients> clients = new ArrayList<>();
      for (MeridianNode n : cluster.nodes()) {
        clients.add(Clients.of(n));
      }
      int sessions = 4;
      int rounds = 5;
      ExecutorService pool = Executors.newFixedThreadPool(sessions);
      try {
        List<Future<List<Long>>> results = new ArrayList<>();
        for (int s = 0; s < sessions; s++) {
          Clients c = clients.get(s % 3);
          long lease =
              c.lease()
                  .grant(LeaseGrantRequest.newBuilder().setNamespace("q").setTtl(60).build())
                  .getId();
          results.add(
              pool.submit(
                  () -> {
                    List<Long> tokens = new ArrayList<>();
                    for (int r = 0; r < rounds; r++) {
                      var grant =
                          c.lock()
                              .acquire(
                                  LockAcquireRequest.newBuilder()
                                      .setName("/q/hot")
                                      .setLease(lease)
                                      .setTimeoutMs(30_000)
                                      .build());
                      tokens.add(grant.getFencingToken());
                      c.lock()
                          .release(
                              io.meridian.api.v1.LockReleaseRequest.newBuilder()
                                  .setName("/q/hot")
                                  .setLease(lease)
                                  .build());
                    }
                    return tokens;
                  }));
        }
        List<Long> all = new ArrayList<>();
        Map<Long, Integer> seen = new HashMap<>();
        for (Future<List<Long>> f : results) {
          List<Long> tokens = f.get();
          assertThat(tokens).isSorted().doesNotHaveDuplicates();
          all.addAll(tokens);
          tokens.forEach(t -> seen.merge(t, 1, Integer::sum));
        }
        assertThat(all).hasSize(sessions * rounds);
        assertThat(seen.values()).allMatch(n -> n == 1);
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
