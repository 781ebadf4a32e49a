package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.cluster.node.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client watches against a real 3-node cluster. */
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

  @Test
  void aWatchResumesOnAnotherMemberWhenItsMemberDiesWithNoGapAndNoDuplicate() throws Exception {
    try (DevCluster cluster = LocalCluster.start(dir);
        MeridianClient client =
            MeridianClient.builder()
                .endpoints(LocalCluster.urls(cluster))
                .healthCheckInterval(Duration.ofMillis(200))
                .build()) {
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
        for (int i = 0; i < 50; i++) {
          client.kv().put("/w/k" + i, ByteString.copyFromUtf8("v"));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> seen.keys().size() == 50);
        // Stop the member serving the watch: the stream breaks, the watch resumes elsewhere.
        String member = seen.position.get().getMember();
        int serving = -1;
        for (int i = 0; i < 3; i++) {
          if (cluster.configs().get(i).member().equals(member)) {
            serving = i;
          }
        }
        assertThat(serving).isNotNegative();
        cluster.stop(serving);
        for (int i = 50; i < 100; i++) {
          client.kv().put("/w/k" + i, ByteString.copyFromUtf8("v"));
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> seen.keys().size() >= 100);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          expected.add("/w/k" + i);
        }
        assertThat(seen.keys()).containsExactlyElementsOf(expected);
        assertThat(seen.position.get().getMember()).isNotEqualTo(member);
        assertThat(seen.error).isNotDone();
      }
    }
  }

  @Test
  void aWatchFromACompactedRevisionEndsWithCompacted() throws Exception {
    try (DevCluster cluster = LocalCluster.start(dir);
        MeridianClient client =
            MeridianClient.builder().endpoints(LocalCluster.urls(cluster)).build()) {
      long first = client.kv().put("/c/a", ByteString.copyFromUtf8("1")).getHeader().getRevision();
      long last = 0;
      for (int i = 0; i < 5; i++) {
        last = client.kv().put("/c/a", ByteString.copyFromUtf8("v" + i)).getHeader().getRevision();
      }
      int leader = LocalCluster.awaitLeader(cluster);
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
