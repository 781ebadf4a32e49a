package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.InstanceEvent;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl registry} against a real 3-member region. */
@Tag("cluster")
class MeridianctlRegistryTest {
  @TempDir static Path dir;
  static LocalRegion region;
  static String endpoints;

  @BeforeAll
  static void start() throws Exception {
    region = LocalRegion.builder(dir.resolve("region")).start();
    region.awaitReady();
    endpoints = String.join(",", region.urls());
  }

  @AfterAll
  static void stop() {
    region.close();
  }

  /** {@code registry --namespace shop} followed by {@code args}. */
  static String[] inShop(String... args) {
    List<String> line = new ArrayList<>(List.of("registry", "--namespace", "shop"));
    line.addAll(List.of(args));
    return line.toArray(String[]::new);
  }

  static CtlRun registry(String... args) {
    return CtlRun.ctl(endpoints, inShop(args));
  }

  static <T extends com.google.protobuf.Message.Builder> T parse(String json, T into)
      throws Exception {
    JsonFormat.parser().merge(json, into);
    return into;
  }

  @Test
  void registerHeartbeatDiscoverListAndDeregister() throws Exception {
    CtlRun p1 =
        registry(
            "register",
            "payments",
            "p1",
            "--address",
            "10.0.0.7:8080",
            "--zone",
            "a",
            "--region",
            "eu",
            "--metadata",
            "team=pay",
            "--ttl",
            "30s",
            "-o",
            "json");
    assertThat(p1.code()).as(p1.err()).isZero();
    RegisterResponse registered = parse(p1.out(), RegisterResponse.newBuilder()).build();
    assertThat(registered.getInstance().getId()).isEqualTo("p1");
    assertThat(registered.getInstance().getPort()).isEqualTo(8080);
    assertThat(registered.getInstance().getMetadataMap()).containsEntry("team", "pay");
    assertThat(registered.getInstance().getLease()).isNotZero();
    assertThat(registered.getTtl()).isEqualTo(30);

    CtlRun p2 = registry("register", "payments", "p2", "--address", "10.0.0.8:8080", "--zone", "b");
    assertThat(p2.code()).as(p2.err()).isZero();
    assertThat(p2.out().lines().findFirst().orElseThrow())
        .startsWith("INSTANCE")
        .contains("LEASE")
        .contains("REVISION");
    assertThat(p2.out()).contains("p2");

    // The caller's zone comes first.
    CtlRun nearB = registry("discover", "payments", "--zone", "b");
    assertThat(nearB.code()).as(nearB.err()).isZero();
    assertThat(nearB.out().lines().toList())
        .hasSize(3)
        .satisfies(l -> assertThat(l.get(0)).startsWith("INSTANCE"))
        .satisfies(l -> assertThat(l.get(1)).startsWith("p2").contains("10.0.0.8:8080"))
        .satisfies(l -> assertThat(l.get(2)).startsWith("p1").contains("PASSING"));
    CtlRun nearA = registry("discover", "payments", "--zone", "a", "-o", "json");
    assertThat(
            parse(nearA.out(), DiscoverResponse.newBuilder()).getInstancesList().stream()
                .map(i -> i.getId())
                .toList())
        .containsExactly("p1", "p2");

    CtlRun beat = registry("heartbeat", "payments", "p1");
    assertThat(beat.code()).as(beat.err()).isZero();
    assertThat(beat.out()).contains(Long.toString(registered.getInstance().getLease()));
    CtlRun beats = registry("heartbeat", "payments", "p1", "--every", "100ms", "--count", "2");
    assertThat(beats.code()).as(beats.err()).isZero();
    assertThat(beats.out().lines()).hasSize(2).allMatch(l -> l.startsWith("p1  lease "));

    CtlRun services = registry("services", "-o", "json");
    assertThat(services.code()).as(services.err()).isZero();
    assertThat(parse(services.out(), ListServicesResponse.newBuilder()).getServicesList())
        .anySatisfy(
            s -> {
              assertThat(s.getName()).isEqualTo("payments");
              assertThat(s.getInstances()).isEqualTo(2);
            });
    assertThat(registry("services").out()).contains("payments");

    CtlRun gone = registry("deregister", "payments", "p2");
    assertThat(gone.code()).as(gone.err()).isZero();
    assertThat(gone.out().lines().skip(1).findFirst().orElseThrow()).matches("p2 +true +\\d+");
    assertThat(registry("discover", "payments", "--consistency", "LINEARIZABLE").out())
        .contains("p1")
        .doesNotContain("p2");
  }

  @Test
  void discoverWaitReturnsWhenAnInstanceRegistersMeanwhile() throws Exception {
    try (CtlRun.Background waiting =
        CtlRun.background(endpoints, inShop("discover", "search", "--wait", "45s", "-o", "json"))) {
      // Still waiting: without --wait an empty answer would have come at once.
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(5))
          .until(() -> !waiting.isDone());
      long registeredAt = System.nanoTime();
      assertThat(registry("register", "search", "s1", "--address", "10.0.1.1:9200").code())
          .isZero();
      CtlRun found = waiting.await(Duration.ofSeconds(40));
      assertThat(found.code()).as(found.err()).isZero();
      assertThat(parse(found.out(), DiscoverResponse.newBuilder()).getInstancesList())
          .extracting(i -> i.getId())
          .containsExactly("s1");
      // It answered on the change, not at the end of the wait.
      assertThat(Duration.ofNanos(System.nanoTime() - registeredAt))
          .isLessThan(Duration.ofSeconds(30));
    }

    // Nothing changes: the same answer when the wait ends.
    CtlRun idle = registry("discover", "search", "--wait", "1s");
    assertThat(idle.code()).as(idle.err()).isZero();
    assertThat(idle.out()).contains("s1");
  }

  @Test
  void watchPrintsTheInstanceSetThenEachChangeAsJsonLines() throws Exception {
    assertThat(registry("register", "cart", "c0", "--address", "10.0.2.1:80").code()).isZero();
    try (CtlRun.Background watching =
        CtlRun.background(
            endpoints,
            "registry",
            "-n",
            "shop",
            "watch",
            "cart",
            "--max-events",
            "4",
            "-o",
            "json")) {
      // The instance set has been printed: the stream is open.
      await().atMost(Duration.ofSeconds(30)).until(() -> watching.out().contains("c0"));
      assertThat(registry("register", "cart", "c1", "--address", "10.0.2.2:80").code()).isZero();
      assertThat(
              registry("register", "cart", "c1", "--address", "10.0.2.2:80", "--zone", "z2").code())
          .isZero();
      assertThat(registry("deregister", "cart", "c1").code()).isZero();
      CtlRun watched = watching.await(Duration.ofSeconds(30));
      assertThat(watched.code()).as(watched.err()).isZero();
      List<String> events = watched.out().lines().toList();
      assertThat(events).hasSize(4);
      List<String> seen = new ArrayList<>();
      for (String line : events) {
        InstanceEvent e = parse(line, InstanceEvent.newBuilder()).build();
        seen.add(e.getType() + " " + e.getInstance().getId());
      }
      assertThat(seen).containsExactly("UP c0", "UP c1", "UPDATED c1", "DOWN c1");
    }
  }

  @Test
  void watchResumesAfterItsMemberFailsWithNoChangeLost() throws Exception {
    assertThat(registry("register", "queue", "q0", "--address", "10.0.4.1:5672").code()).isZero();
    // Only one member's URL, a follower's: the region keeps its quorum while it is down.
    int member = (region.awaitReady() + 1) % 3;
    try (CtlRun.Background watching =
        CtlRun.background(
            region.urls().get(member),
            "registry",
            "-n",
            "shop",
            "watch",
            "queue",
            "--max-events",
            "2")) {
      await().atMost(Duration.ofSeconds(30)).until(() -> watching.out().contains("q0"));
      region.kill(member);
      try {
        assertThat(registry("register", "queue", "q1", "--address", "10.0.4.2:5672").code())
            .isZero();
        region.restart(member);
        CtlRun watched = watching.await(Duration.ofSeconds(60));
        assertThat(watched.code()).as(watched.err()).isZero();
        assertThat(watched.out().lines())
            .containsExactly("UP  q0  10.0.4.1:5672  PASSING", "UP  q1  10.0.4.2:5672  PASSING");
      } finally {
        if (region.node(member) == null) {
          region.restart(member);
        }
        region.awaitReady();
      }
    }
  }

  @Test
  void watchInTablePrintsOneLinePerEvent() throws Exception {
    assertThat(registry("register", "mail", "m0", "--address", "10.0.3.1:25").code()).isZero();
    CtlRun watched = registry("watch", "mail", "--max-events", "1");
    assertThat(watched.code()).as(watched.err()).isZero();
    assertThat(watched.out().lines()).containsExactly("UP  m0  10.0.3.1:25  PASSING");
  }

  @Test
  void usageErrorsExitWith2AndNameTheOption() {
    CtlRun noAddress = registry("register", "payments", "p9");
    assertThat(noAddress.code()).isEqualTo(2);
    assertThat(noAddress.err()).contains("--address");

    CtlRun badAddress = registry("register", "payments", "p9", "--address", "10.0.0.9");
    assertThat(badAddress.code()).isEqualTo(2);
    assertThat(badAddress.err()).contains("--address: 10.0.0.9 (expected: HOST:PORT");

    CtlRun badTtl = registry("register", "payments", "p9", "--address", "h:1", "--ttl", "1500ms");
    assertThat(badTtl.code()).isEqualTo(2);
    assertThat(badTtl.err()).contains("--ttl");

    CtlRun noNamespace = CtlRun.ctl(endpoints, "registry", "discover", "payments");
    assertThat(noNamespace.code()).isEqualTo(2);
    assertThat(noNamespace.err()).contains("--namespace");

    CtlRun badLevel = registry("discover", "payments", "--consistency", "EVENTUAL");
    assertThat(badLevel.code()).isEqualTo(2);
    assertThat(badLevel.err()).contains("--consistency: EVENTUAL");

    CtlRun badWait = registry("discover", "payments", "--wait", "10m");
    assertThat(badWait.code()).isEqualTo(2);
    assertThat(badWait.err()).contains("--wait");

    CtlRun badEvery = registry("heartbeat", "payments", "p1", "--every", "often");
    assertThat(badEvery.code()).isEqualTo(2);
    assertThat(badEvery.err()).contains("--every");
  }

  @Test
  void aRefusedRequestExitsWith1AndSaysWhy() {
    CtlRun bad = registry("register", "bad name!", "x", "--address", "h:1");
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).startsWith("Error: INVALID_ARGUMENT: ");
  }
}
