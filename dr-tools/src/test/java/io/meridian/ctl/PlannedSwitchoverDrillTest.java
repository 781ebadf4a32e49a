package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.launcher.DevFederation;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/planned-switchover.md, run as written under a steady write load through the primary
 * region's router: every write either region acknowledged must be on the new primary, and the
 * longest time between two acknowledgements (the pause the switchover cost) is printed.
 */
@Tag("cluster")
@Tag("drill")
class PlannedSwitchoverDrillTest {
  @TempDir Path dir;

  @Test
  void thePrimaryMovesUnderLoadWithNoAcknowledgedWriteLost() throws Exception {
    try (DevFederation f = Drills.federation(dir.resolve("dev"), 1);
        RunbookDrill drill = new RunbookDrill("planned-switchover.md", dir)) {
      String east = f.router("us-east").url();
      long before = Drills.lock(east, "/drill/locks/before", 30);
      List<WriteLoad.Ack> acks;
      RunbookDrill.Run run;
      long started;
      try (WriteLoad load =
          new WriteLoad(east, "/drill/w/", 20_000, Duration.ofSeconds(300), Duration.ofMillis(20))
              .start()) {
        await().atMost(Duration.ofSeconds(60)).until(() -> load.acknowledged() >= 200);
        started = System.nanoTime();
        run =
            drill
                .set("ROUTERS", Drills.routers(f))
                .set("SHARD", 0)
                .set("PRIMARY", "us-east")
                .set("STANDBY", "us-west")
                .set("BRIDGE", f.bridge().url())
                .set("PROBE_KEY", "/drill/probe")
                .section("Symptoms")
                .section("Commands")
                .section("Verification")
                .runGreen(Duration.ofMinutes(3));
        int done = load.acknowledged();
        await().atMost(Duration.ofSeconds(30)).until(() -> load.acknowledged() >= done + 100);
        acks = load.acks();
      }
      assertThat(run.symptoms()).containsPattern("(?m)^HEALTHY\\s*$");
      assertThat(run.output()).contains("nothing is lost").contains("[8/8] notify");

      Map<String, String> west =
          Drills.local(f.cluster("us-west").configs().get(0).self().client(), "/drill/w/");
      assertThat(acks).allMatch(a -> a.value().equals(west.get(a.key())), "on the new primary");
      assertThat(acks.get(0).region()).isEqualTo("us-east");
      WriteLoad.Ack last = acks.get(acks.size() - 1);
      assertThat(last.region()).isEqualTo("us-west");
      assertThat(last.epoch()).isEqualTo(2);
      long after = Drills.lock(east, "/drill/locks/after", 30);
      assertThat(after).isGreaterThan(before);
      Duration pause = longestGapAfter(acks, started);
      System.out.printf(
          "planned-switchover drill: %d writes acknowledged (%d by us-east, %d by us-west), none"
              + " lost; writes paused %d ms at most (the longest time between two"
              + " acknowledgements); fencing tokens %d -> %d%n",
          acks.size(),
          acks.stream().filter(a -> a.region().equals("us-east")).count(),
          acks.stream().filter(a -> a.region().equals("us-west")).count(),
          pause.toMillis(),
          before,
          after);
    }
  }

  private static Duration longestGapAfter(List<WriteLoad.Ack> acks, long from) {
    long gap = 0;
    for (int i = 1; i < acks.size(); i++) {
      if (acks.get(i).atNanos() > from) {
        gap = Math.max(gap, acks.get(i).atNanos() - acks.get(i - 1).atNanos());
      }
    }
    return Duration.ofNanos(gap);
  }
}
