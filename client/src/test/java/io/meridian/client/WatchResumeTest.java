package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client watches against a real 3-node cluster. */
@Tag("cluster")
class WatchResumeTest {
  @TempDir Path dir;

  /** Collects what a watch delivers. */
  private static final class Collected implements WatchClient.Listener {
    final List<Event> events = new ArrayList<>();
    final AtomicReference<ResponseHeader> position = new AtomicReference<>();
    final CompletableFuture<MeridianException> error = new CompletableFuture<>();

    @Override
    public synchronized void onEvents(List<Event> batch, ResponseHeader at) {
      events.addAll(batch);
      position.set(at);
    }

    @Override
    public void onProgress(ResponseHeader at) {
      position.set(at);
    }

    @Override
    public void onError(MeridianException e) {
      error.complete(e);
    }

    synchronized List<String> keys() {
      return events.stream().map(e -> e.getKv().getKey()).toList();
    }
  }

  /**
   * Through a leader change and the death of the member serving the stream (the same member, or
   * another one afterwards), the watch delivers every event once, in order.
   */
  @Test
  void aWatchSurvivesALeaderChangeAndItsMembersDeathWithNoGapAndNoDuplicate() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client = LocalCluster.client(cluster).build()) {
      long start =
          client.kv().put("/w/start", ByteString.copyFromUtf8("0")).getHeader().getRevision();
      Collected seen = new Collected();
      try (WatchClient.Watching w =
          client
              .watches()
              .watch(
                  WatchCreateRequest.newBuilder()
                      .setKey("/w/k")
                      .setPrefix(true)
                      .setStartRevision(start + 1)
                      .setProgressNotify(true)
                      .build(),
                  seen)) {
        putRange(client, 0, 50);
        await().atMost(Duration.ofSeconds(20)).until(() -> seen.keys().size() == 50);
        String serving = seen.position.get().getMember();

        // A leader change, with writes going on.
        int leader = cluster.awaitReady();
        cluster.kill(leader);
        putRange(client, 50, 100);
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.keys().size() >= 100);
        cluster.restart(leader);
        cluster.awaitReady();

        // If the stream's member survived the leader change, it dies now: the stream must move.
        int servingIndex = indexOf(cluster, serving);
        boolean servingWasLeader = servingIndex == leader;
        if (!servingWasLeader) {
          cluster.kill(servingIndex);
        }
        putRange(client, 100, 150);
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.keys().size() >= 150);

        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
          expected.add("/w/k" + i);
        }
        assertThat(seen.keys()).containsExactlyElementsOf(expected);
        assertThat(seen.position.get().getMember()).isNotEqualTo(serving);
        assertThat(seen.error).isNotDone();
        assertThat(w.revision()).isGreaterThanOrEqualTo(start + 150);
      }
    }
  }

  /**
   * A watch that saw revision 5 in epoch 1 resumes on a member whose history left epoch 1 at
   * revision 3 (a failover promoted it before it had 4 and 5): its revision 6 is another state, so
   * the watch ends with HISTORY_DIVERGED instead of going on from there.
   */
  @Test
  void aWatchResumedOnAHistoryThatAbandonedItsPositionEndsWithHistoryDiverged() throws Exception {
    Map<String, Map<String, Object>> fast = Map.of("raft", DevCluster.FAST_ELECTIONS);
    Path other = dir.resolve("promoted");
    String promotedUrl;
    // The other cluster's history: epoch 1 for revisions 1..3, epoch 2 from revision 4 on.
    try (DevCluster promoted = DevCluster.plan(other, 1, "west", fast).start();
        MeridianClient direct =
            MeridianClient.builder().endpoints(List.of(promoted.node(0).clientUrl())).build()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> promoted.readyLeader() >= 0);
      promotedUrl = promoted.node(0).clientUrl();
      putRange(direct, 0, 3);
      GrpcClients.builder(promotedUrl)
          .build(ClusterGrpc.ClusterBlockingStub.class)
          .setRole(SetRoleRequest.newBuilder().setRole(Role.PRIMARY).setEpoch(2).build());
      putRange(direct, 3, 8);
    }
    try (LocalRegion cluster = LocalRegion.builder(dir.resolve("east")).members(1).start()) {
      cluster.awaitReady();
      try (MeridianClient client =
          MeridianClient.builder()
              .endpoints(List.of(cluster.urls().get(0), promotedUrl))
              .healthCheckInterval(Duration.ofMillis(200))
              .build()) {
        Collected seen = new Collected();
        try (WatchClient.Watching w =
            client
                .watches()
                .watch(
                    WatchCreateRequest.newBuilder()
                        .setKey("/w/k")
                        .setPrefix(true)
                        .setStartRevision(1)
                        .build(),
                    seen)) {
          putRange(client, 0, 5);
          await().atMost(Duration.ofSeconds(20)).until(() -> seen.keys().size() == 5);
          assertThat(seen.position.get().getEpoch()).isEqualTo(1);
          try (DevCluster promoted = DevCluster.plan(other, 1, "west", fast).start()) {
            cluster.kill(0);
            MeridianException ended = seen.error.get(60, TimeUnit.SECONDS);
            assertThat(ended.code()).isEqualTo(Error.Code.HISTORY_DIVERGED);
            assertThat(seen.keys()).hasSize(5);
            assertThat(w.revision()).isEqualTo(5);
          }
        }
      }
    }
  }

  private static void putRange(MeridianClient client, int from, int to) {
    for (int i = from; i < to; i++) {
      client.kv().put("/w/k" + i, ByteString.copyFromUtf8("v"));
    }
  }

  private static int indexOf(LocalRegion cluster, String member) {
    for (int i = 0; i < cluster.cluster().configs().size(); i++) {
      if (cluster.cluster().configs().get(i).member().equals(member)) {
        return i;
      }
    }
    throw new AssertionError("no member " + member);
  }

  @Test
  void aWatchFromACompactedRevisionEndsWithCompacted() throws Exception {
    try (LocalRegion cluster = LocalCluster.start(dir);
        MeridianClient client = MeridianClient.builder().endpoints(cluster.urls()).build()) {
      long first = client.kv().put("/c/a", ByteString.copyFromUtf8("1")).getHeader().getRevision();
      long last = 0;
      for (int i = 0; i < 5; i++) {
        last = client.kv().put("/c/a", ByteString.copyFromUtf8("v" + i)).getHeader().getRevision();
      }
      int leader = cluster.awaitReady();
      long compactTo = last;
      cluster
          .node(leader)
          .replicas()
          .get(0)
          .propose(
              io.meridian.cluster.proto.Command.newBuilder()
                  .setCompact(
                      io.meridian.api.v1.CompactionRequest.newBuilder().setRevision(compactTo))
                  .build())
          .get(10, TimeUnit.SECONDS);
      // Every member has compacted before the watch starts: a member still behind would rightly
      // replay the history it has not dropped yet, whichever member the watch lands on.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  cluster.cluster().nodes().stream()
                      .allMatch(
                          n -> n.replicas().get(0).read(s -> s.compactRevision()) >= compactTo));

      Collected seen = new Collected();
      try (WatchClient.Watching w =
          client
              .watches()
              .watch(
                  WatchCreateRequest.newBuilder().setKey("/c/a").setStartRevision(first).build(),
                  seen)) {
        MeridianException e = seen.error.get(20, TimeUnit.SECONDS);
        assertThat(e.code()).isEqualTo(Error.Code.COMPACTED);
        assertThat(seen.keys()).isEmpty();
      }
    }
  }
}
