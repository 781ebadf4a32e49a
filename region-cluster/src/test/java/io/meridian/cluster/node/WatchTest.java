package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.watch.WatchHub;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Watches served by a real 3-node cluster, on leader and followers. */
@Tag("cluster")
class WatchTest {
  @TempDir static Path shared;
  @TempDir Path dir;

  static DevCluster cluster;
  static int leader;
  static Clients writer;

  static Map<String, Map<String, Object>> config() {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put(
        "watch", new HashMap<>(Map.of("progress-interval-ms", 300, "max-pending-bytes", 1 << 20)));
    return o;
  }

  @BeforeAll
  static void start() throws IOException {
    cluster = TestClusters.start(shared, config());
    leader = TestClusters.awaitReady(cluster);
    writer = Clients.of(cluster.node(leader));
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static int follower(DevCluster c, int leader) {
    return (leader + 1) % c.nodes().size();
  }

  static long put(Clients c, String key, String value) {
    return c.kv()
        .put(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).build())
        .getHeader()
        .getRevision();
  }

  @Test
  void followerServesEventsInRevisionOrderWithPreviousValues() {
    MeridianNode follower = cluster.node(follower(cluster, leader));
    try (Watcher w = Watcher.open(follower.clientUrl())) {
      w.watchPrefix(1, "/order/", 0);
      w.await(WatchResponse::getCreated);
      put(writer, "/order/a", "1");
      put(writer, "/order/b", "2");
      put(writer, "/other/x", "ignored");
      put(writer, "/order/a", "3");
      writer.kv().deleteRange(DeleteRangeRequest.newBuilder().setKey("/order/b").build());
      w.awaitEvents(1, 4);

      List<Event> events = w.events(1);
      assertThat(events).hasSize(4);
      assertThat(events)
          .extracting(e -> e.getType() + " " + e.getKv().getKey())
          .containsExactly("PUT /order/a", "PUT /order/b", "PUT /order/a", "DELETE /order/b");
      assertThat(events.get(2).getPrevKv().getValue().toStringUtf8()).isEqualTo("1");
      assertThat(events.get(3).getPrevKv().getValue().toStringUtf8()).isEqualTo("2");
      assertThat(events)
          .extracting(e -> e.getKv().getModRevision())
          .isSorted()
          .doesNotHaveDuplicates();
      WatchResponse last =
          w.await(
              r -> r.getEventsCount() > 0 && r.getEvents(0).getType() == Event.EventType.DELETE);
      assertThat(last.getHeader().getMember()).isEqualTo(follower.config().member());
      assertThat(last.getHeader().getRevision()).isEqualTo(events.get(3).getKv().getModRevision());
      assertThat(last.getHeader().getEpoch()).isEqualTo(1);
    }
  }

  @Test
  void aWatchFromACompactedRevisionFailsWithTheCompactionRevision() {
    long first = put(writer, "/compact/a", "1");
    put(writer, "/compact/a", "2");
    long compactAt = put(writer, "/compact/a", "3");
    writer.kv().compact(CompactionRequest.newBuilder().setRevision(compactAt).build());
    long after = put(writer, "/compact/a", "4");
    try (Watcher w = Watcher.open(cluster.node(leader).clientUrl())) {
      w.watchPrefix(1, "/compact/", first);
      WatchResponse failed = w.await(WatchResponse::getCanceled);
      assertThat(failed.getError().getCode()).isEqualTo(Error.Code.COMPACTED);
      assertThat(failed.getCompactRevision()).isGreaterThanOrEqualTo(compactAt);

      // From just above the compaction the retained history replays.
      long from = failed.getCompactRevision() + 1;
      w.watchPrefix(2, "/compact/", from);
      w.awaitEvents(2, 1);
      assertThat(w.events(2).get(w.events(2).size() - 1).getKv().getModRevision()).isEqualTo(after);
      assertThat(w.events(2)).allMatch(e -> e.getKv().getModRevision() >= from);
    }
  }

  @Test
  void cancelEndsOneWatchAndTheOthersOfTheStreamGoOn() {
    try (Watcher w = Watcher.open(cluster.node(leader).clientUrl())) {
      w.watchPrefix(1, "/cancel/", 0);
      w.watchPrefix(2, "/cancel/", 0);
      await().until(() -> w.responses.stream().filter(WatchResponse::getCreated).count() == 2);
      w.cancel(1);
      w.await(r -> r.getWatchId() == 1 && r.getCanceled());
      put(writer, "/cancel/a", "1");
      w.awaitEvents(2, 1);
      assertThat(w.events(1)).isEmpty();
      w.cancel(99);
      WatchResponse unknown = w.await(r -> r.getWatchId() == 99);
      assertThat(unknown.getError().getCode()).isEqualTo(Error.Code.NOT_FOUND);
    }
  }

  @Test
  void writesAppliedWhileNobodyWatchedAreThereForTheNextWatch() {
    // Writes applied while a member serves no watch are not handed to its watch dispatcher; the
    // next watch takes its position from the state, and replays what it asks for.
    MeridianNode follower = cluster.node(follower(cluster, leader));
    WatchHub hub = follower.replicas().get(0).watchHub();
    try (Watcher first = Watcher.open(follower.clientUrl())) {
      first.watchPrefix(1, "/unwatched/first/", 0);
      first.await(WatchResponse::getCreated);
      put(writer, "/unwatched/first/k", "1");
      first.awaitEvents(1, 1);
    }
    await().until(() -> hub.watches() == 0);
    long missed = put(writer, "/unwatched/k", "2");
    await().until(() -> follower.replicas().get(0).read(s -> s.revision()) >= missed);
    try (Watcher w = Watcher.open(follower.clientUrl())) {
      w.watchPrefix(1, "/unwatched/k", missed);
      w.watchPrefix(2, "/unwatched/k", 0);
      WatchResponse created = w.await(r -> r.getCreated() && r.getWatchId() == 2);
      assertThat(created.getHeader().getRevision()).isGreaterThanOrEqualTo(missed);
      w.awaitEvents(1, 1);
      assertThat(w.events(1))
          .extracting(e -> e.getKv().getKey() + "@" + e.getKv().getModRevision())
          .containsExactly("/unwatched/k@" + missed);
      long next = put(writer, "/unwatched/k", "3");
      w.awaitEvents(2, 1);
      assertThat(w.events(2))
          .extracting(e -> e.getKv().getKey() + "@" + e.getKv().getModRevision())
          .containsExactly("/unwatched/k@" + next);
    }
  }

  @Test
  void progressNotificationsTellAnIdleWatcherTheRevisionItReached() {
    try (Watcher w = Watcher.open(cluster.node(follower(cluster, leader)).clientUrl())) {
      w.create(
          WatchCreateRequest.newBuilder()
              .setWatchId(1)
              .setKey("/idle/")
              .setPrefix(true)
              .setProgressNotify(true)
              .build());
      w.await(WatchResponse::getCreated);
      long revision = put(writer, "/elsewhere/k", "v");
      WatchResponse progress =
          w.await(r -> r.getProgress() && r.getHeader().getRevision() >= revision);
      assertThat(progress.getEventsCount()).isZero();

      long later = put(writer, "/elsewhere/k", "w");
      await()
          .until(
              () ->
                  cluster.node(follower(cluster, leader)).replicas().get(0).read(s -> s.revision())
                      >= later);
      w.requestProgress();
      w.await(r -> r.getProgress() && r.getHeader().getRevision() >= later);
    }
  }

  @Test
  void aSlowConsumerIsCutOffWithAClearErrorAndOthersAreNotDisturbed() throws Exception {
    MeridianNode node = cluster.node(leader);
    double cutOffsBefore = node.metrics().counter("meridian.watch.slow.consumers").count();
    // A curl-style watcher that never reads its socket: the node's buffers fill up behind it.
    try (Socket stalled = new Socket();
        Watcher reader = Watcher.open(node.clientUrl())) {
      stalled.setReceiveBufferSize(4096);
      stalled.connect(new InetSocketAddress("127.0.0.1", node.clientPort()));
      String body = "{\"key\":\"/slow/\",\"prefix\":true}";
      stalled
          .getOutputStream()
          .write(
              ("POST /v1/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      + "Content-Length: "
                      + body.length()
                      + "\r\n\r\n"
                      + body)
                  .getBytes(StandardCharsets.US_ASCII));
      reader.watchPrefix(1, "/slow/", 0);
      reader.await(WatchResponse::getCreated);
      await().until(() -> node.replicas().get(0).watchHub().watches() >= 2);

      String big = "x".repeat(256 * 1024);
      int writes = 0;
      for (;
          writes < 200
              && node.metrics().counter("meridian.watch.slow.consumers").count() == cutOffsBefore;
          writes++) {
        put(writer, "/slow/k" + writes, big);
      }
      int written = writes;
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  node.metrics().counter("meridian.watch.slow.consumers").count() > cutOffsBefore);
      // Its watch is gone, the other watcher got every event.
      await().until(() -> node.replicas().get(0).watchHub().watches() == 1);
      reader.awaitEvents(1, written);
      assertThat(reader.failure).isNull();

      // Reading what the node sent, the stream ends with the error.
      String tail = lastLine(stalled);
      assertThat(tail).contains("SLOW_CONSUMER").contains("cut off");
    }
  }

  @Test
  void aStalledGrpcStreamIsCutOffAndSeesWhyOnceItReads() {
    MeridianNode node = cluster.node(leader);
    double cutOffsBefore = node.metrics().counter("meridian.watch.slow.consumers").count();
    try (Watcher stalled = Watcher.stalled(node.clientUrl())) {
      stalled.watchPrefix(1, "/stalled/", 0);
      await().until(() -> node.replicas().get(0).watchHub().watches() >= 1);
      String big = "x".repeat(256 * 1024);
      for (int i = 0;
          i < 200
              && node.metrics().counter("meridian.watch.slow.consumers").count() == cutOffsBefore;
          i++) {
        put(writer, "/stalled/k" + i, big);
      }
      await()
          .until(
              () ->
                  node.metrics().counter("meridian.watch.slow.consumers").count() > cutOffsBefore);
      await().until(() -> node.replicas().get(0).watchHub().watches() == 0);
      stalled.resume();
      await().atMost(Duration.ofSeconds(30)).until(() -> stalled.failure != null);
      assertThat(io.grpc.Status.fromThrowable(stalled.failure).getCode())
          .isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
      assertThat(io.grpc.Status.fromThrowable(stalled.failure).getDescription())
          .contains("cut off");
    }
  }

  /** Reads a socket to its end (bounded) and returns the last non-empty chunked-body line. */
  private static String lastLine(Socket socket) throws IOException {
    socket.setSoTimeout(30_000);
    ByteArrayOutputStream tail = new ByteArrayOutputStream();
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    for (int n; total < (512L << 20) && (n = socket.getInputStream().read(buffer)) > 0; ) {
      total += n;
      tail.write(buffer, 0, n);
      if (tail.size() > (1 << 20)) {
        byte[] keep = tail.toByteArray();
        tail.reset();
        tail.write(keep, keep.length - 4096, 4096);
      }
    }
    String[] lines = tail.toString(StandardCharsets.UTF_8).split("\r?\n");
    for (int i = lines.length - 1; i >= 0; i--) {
      if (lines[i].startsWith("{")) {
        return lines[i];
      }
    }
    return "";
  }

  @Test
  void oneWriteToAPrefixReachesEveryWatcher() {
    String url = cluster.node(follower(cluster, leader)).clientUrl();
    List<Watcher> streams = new ArrayList<>();
    try {
      for (int s = 0; s < 10; s++) {
        Watcher w = Watcher.open(url);
        streams.add(w);
        for (int i = 1; i <= 200; i++) {
          w.watchPrefix(i, "/fan/", 0);
        }
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  streams.stream()
                          .mapToLong(
                              w -> w.responses.stream().filter(WatchResponse::getCreated).count())
                          .sum()
                      == 2000);
      // A burst: each stream queues many responses at once (a transport that signals readiness
      // from inside a send once made the drain recurse until the stack overflowed).
      for (int i = 0; i < 20; i++) {
        put(writer, "/fan/k" + i, "v");
      }
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  streams.stream()
                          .mapToLong(
                              w ->
                                  w.responses.stream()
                                      .mapToLong(WatchResponse::getEventsCount)
                                      .sum())
                          .sum()
                      == 2000 * 20);
      assertThat(streams).allMatch(w -> w.failure == null);
    } finally {
      streams.forEach(Watcher::close);
    }
  }

  @Test
  void httpWatchStreamsJsonLinesAndRefusesBadRequests() throws Exception {
    String url = cluster.node(follower(cluster, leader)).clientUrl();
    // HTTP/1.1, as curl speaks it: closing the body closes the connection, and the server ends the
    // watch. With the JDK client's default (HTTP/2 over cleartext) the server saw no end of the
    // stream after the body was closed, and the watch stayed until the client went away.
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<Stream<String>> response =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "/v1/watch"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"/curl/\",\"prefix\":true}"))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader = new Thread(() -> response.body().forEach(lines::add));
    reader.setDaemon(true);
    reader.start();
    try {
      await().until(() -> !lines.isEmpty());
      assertThat(lines.get(0)).contains("\"created\":true");
      put(writer, "/curl/a", "hello");
      await().until(() -> lines.stream().anyMatch(l -> l.contains("\"events\":[{")));
      assertThat(lines.stream().filter(l -> l.contains("\"events\":[{")).findFirst().orElseThrow())
          .contains("\"key\":\"/curl/a\"")
          .contains("aGVsbG8="); // values are bytes: base64 in JSON
    } finally {
      response.body().close();
    }

    HttpResponse<String> bad =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "/v1/watch"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"/curl/\",\"nope\":1}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("INVALID_ARGUMENT").contains("nope");
    HttpResponse<String> compacted =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "/v1/watch"))
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"key\":\"/curl/\",\"startRevision\":-1}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(compacted.statusCode()).isEqualTo(400);
  }

  @Test
  void resumeAfterReconnectAcrossALeaderChangeHasNoGapAndNoDuplicate() throws Exception {
    try (DevCluster c = TestClusters.start(dir, config())) {
      int lead = TestClusters.awaitReady(c);
      int watchNode = follower(c, lead);
      Clients w0 = Clients.of(c.node(lead));
      List<Event> seen = new ArrayList<>();
      try (Watcher w = Watcher.open(c.node(watchNode).clientUrl())) {
        w.watchPrefix(1, "/resume/", 0);
        w.await(WatchResponse::getCreated);
        for (int i = 0; i < 30; i++) {
          put(w0, "/resume/k" + i, "v" + i);
        }
        w.awaitEvents(1, 30);
        seen.addAll(w.events(1));
      }
      // Disconnected: more writes, then the leader stops.
      for (int i = 30; i < 60; i++) {
        put(w0, "/resume/k" + i, "v" + i);
      }
      c.stop(lead);
      int next = TestClusters.awaitReady(c);
      Clients w1 = Clients.of(c.node(next));
      for (int i = 60; i < 90; i++) {
        put(w1, "/resume/k" + i, "v" + i);
      }
      long from = seen.get(seen.size() - 1).getKv().getModRevision() + 1;
      int other = watchNode == next ? 3 - lead - next : watchNode;
      try (Watcher w = Watcher.open(c.node(other).clientUrl())) {
        w.create(
            WatchCreateRequest.newBuilder()
                .setWatchId(7)
                .setKey("/resume/")
                .setPrefix(true)
                .setStartRevision(from)
                .setStartEpoch(1)
                .build());
        w.awaitEvents(7, 60);
        for (int i = 90; i < 100; i++) {
          put(w1, "/resume/k" + i, "v" + i);
        }
        w.awaitEvents(7, 70);
        seen.addAll(w.events(7));
      }
      assertThat(seen).hasSize(100);
      List<String> expected = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        expected.add("/resume/k" + i);
      }
      assertThat(seen).extracting(e -> e.getKv().getKey()).containsExactlyElementsOf(expected);
      assertThat(seen)
          .extracting(e -> e.getKv().getModRevision())
          .isSorted()
          .doesNotHaveDuplicates();
    }
  }

  @Test
  void aFollowerThatLosesItsLeaderFailsItsWatches() throws Exception {
    try (DevCluster c = TestClusters.start(dir, config())) {
      int lead = TestClusters.awaitReady(c);
      int f = follower(c, lead);
      try (Watcher w = Watcher.open(c.node(f).clientUrl())) {
        w.watchPrefix(1, "/lost/", 0);
        w.await(WatchResponse::getCreated);
        for (int i = 0; i < 3; i++) {
          if (i != f) {
            c.stop(i);
          }
        }
        WatchResponse failed = w.await(WatchResponse::getCanceled);
        assertThat(failed.getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE);
        assertThat(failed.getError().getMessage()).contains("no leader");
      }
    }
  }
}
