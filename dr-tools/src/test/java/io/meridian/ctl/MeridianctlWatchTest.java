package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import io.meridian.api.v1.Event;
import io.meridian.client.MeridianClient;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl watch} against a real 3-member region, written to by a raw client. */
@Tag("cluster")
class MeridianctlWatchTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;
  static MeridianClient client;

  @BeforeAll
  static void start() throws Exception {
    region = LocalRegion.builder(dir.resolve("region")).start();
    region.awaitReady();
    endpoints = String.join(",", region.urls());
    client = MeridianClient.builder().endpoints(region.urls()).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    region.close();
  }

  /** The revision after the current one: a watch from it sees every later write. */
  static long nextRevision() {
    return client
            .kv()
            .put("/watch/clock", ByteString.copyFromUtf8("tick"))
            .getHeader()
            .getRevision()
        + 1;
  }

  static long put(String key, String value) {
    return client.kv().put(key, ByteString.copyFromUtf8(value)).getHeader().getRevision();
  }

  @Test
  void watchPrintsEventsWrittenAfterItStarted() throws Exception {
    long from = nextRevision();
    try (CtlRun.Background watching =
        CtlRun.background(
            endpoints,
            "watch",
            "/watch/a/",
            "--prefix",
            "--rev",
            Long.toString(from),
            "--max-events",
            "3")) {
      long one = put("/watch/a/1", "one");
      long two = put("/watch/a/2", "two words");
      long deleted = client.kv().delete("/watch/a/1").getHeader().getRevision();
      CtlRun watched = watching.await(Duration.ofSeconds(30));
      assertThat(watched.code()).as(watched.err()).isZero();
      assertThat(watched.out().lines())
          .containsExactly(
              "PUT  /watch/a/1  " + one + "  one",
              "PUT  /watch/a/2  " + two + "  two words",
              "DELETE  /watch/a/1  " + deleted);
    }
  }

  @Test
  void jsonOutputIsOneEventPerLine() throws Exception {
    long from = nextRevision();
    try (CtlRun.Background watching =
        CtlRun.background(
            endpoints,
            "watch",
            "/watch/j",
            "--rev",
            Long.toString(from),
            "--max-events",
            "2",
            "-o",
            "json")) {
      put("/watch/j", "1");
      put("/watch/j", "2");
      CtlRun watched = watching.await(Duration.ofSeconds(30));
      assertThat(watched.code()).as(watched.err()).isZero();
      List<String> lines = watched.out().lines().toList();
      assertThat(lines).hasSize(2);
      for (int i = 0; i < 2; i++) {
        Event.Builder e = Event.newBuilder();
        JsonFormat.parser().merge(lines.get(i), e);
        assertThat(e.getType()).isEqualTo(Event.EventType.PUT);
        assertThat(e.getKv().getValue().toStringUtf8()).isEqualTo(Integer.toString(i + 1));
      }
    }
  }

  @Test
  void aCompactedStartRevisionFailsWithCompacted() {
    long first = put("/watch/c", "old");
    put("/watch/c", "new");
    long now = put("/watch/c", "newer");
    // One shard: kv compact needs no --shard.
    CtlRun compact = CtlRun.ctl(endpoints, "kv", "compact", Long.toString(now));
    assertThat(compact.code()).as(compact.err()).isZero();
    CtlRun watched = CtlRun.ctl(endpoints, "watch", "/watch/c", "--rev", Long.toString(first));
    assertThat(watched.code()).isEqualTo(1);
    assertThat(watched.err()).startsWith("Error: COMPACTED: ");
  }

  @Test
  void theWatchResumesAfterItsMemberFailsWithNoEventLost() throws Exception {
    // Only one member's URL: the watch is on that member, which a follower is, so the region
    // keeps its quorum while it is down.
    int member = (region.awaitReady() + 1) % 3;
    long from = nextRevision();
    try (CtlRun.Background watching =
        CtlRun.background(
            region.urls().get(member),
            "watch",
            "/watch/r",
            "--rev",
            Long.toString(from),
            "--max-events",
            "2")) {
      long before = put("/watch/r", "before");
      await().atMost(Duration.ofSeconds(30)).until(() -> watching.out().contains("before"));
      region.kill(member);
      try {
        long during = put("/watch/r", "while down");
        region.restart(member);
        CtlRun watched = watching.await(Duration.ofSeconds(60));
        assertThat(watched.code()).as(watched.err()).isZero();
        assertThat(watched.out().lines())
            .containsExactly(
                "PUT  /watch/r  " + before + "  before",
                "PUT  /watch/r  " + during + "  while down");
      } finally {
        if (region.node(member) == null) {
          region.restart(member);
        }
        region.awaitReady();
      }
    }
  }

  @Test
  void usageErrorsExitWith2AndNameTheOption() {
    CtlRun badRev = CtlRun.ctl(endpoints, "watch", "/watch/x", "--rev", "-3");
    assertThat(badRev.code()).isEqualTo(2);
    assertThat(badRev.err()).contains("--rev: -3");
    CtlRun noKey = CtlRun.ctl(endpoints, "watch");
    assertThat(noKey.code()).isEqualTo(2);
    assertThat(noKey.err()).contains("KEY");
  }
}
