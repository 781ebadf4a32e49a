package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.client.Stubs;
import io.meridian.launcher.DevFederation;
import io.meridian.testing.ProcessRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/region-failure.md, run as written, measured: the primary region's three members run as
 * processes, a steady write load goes through its router, every member is SIGKILLed at once, then
 * the runbook's failover. It prints the recovery time (from the kill to the first write the new
 * primary acknowledged through a router) and the recovery point (revisions the old primary
 * acknowledged that the new one lacks), and checks the point against what the decide step said,
 * that every acknowledged write the change topic held survived, that the old primary, restarted,
 * takes no write and serves no linearizable read, and that the new primary's fencing tokens are
 * above the old one's.
 */
@Tag("cluster")
@Tag("drill")
class RegionFailureDrillTest {
  @TempDir Path dir;

  @Test
  void theStandbyTakesOverLosingOnlyWhatNeverReachedTheTopic() throws Exception {
    ProcessRegion[] eastNodes = new ProcessRegion[1];
    DevFederation.RegionLaunch launch =
        (region, planned) ->
            region.equals("us-east")
                ? (eastNodes[0] =
                    new ProcessRegion(planned.stateDir(), planned.configs()).startAll())
                : planned.start();
    try (DevFederation f = Drills.federation(dir.resolve("dev"), 3, launch);
        RunbookDrill drill = new RunbookDrill("region-failure.md", dir)) {
      String east = f.router("us-east").url();
      long before = Drills.lock(east, "/drill/locks/before", 30);
      long killedAt;
      List<WriteLoad.Ack> acks;
      RunbookDrill.Run run;
      try (WriteLoad load =
          new WriteLoad(east, "/drill/w/", 20_000, Duration.ofSeconds(300), Duration.ofMillis(20))
              .start()) {
        await().atMost(Duration.ofSeconds(60)).until(() -> load.acknowledged() >= 200);
        killedAt = System.nanoTime();
        eastNodes[0].killAll();

        run =
            drill
                .set("ROUTERS", Drills.routers(f))
                .set("SHARD", 0)
                .set("PRIMARY", "us-east")
                .set("STANDBY", "us-west")
                .set("KAFKA", f.bridge().config().kafka().bootstrapServers())
                .set("BRIDGE", f.bridge().url())
                .set("PROBE_KEY", "/drill/probe")
                .section("Symptoms")
                .section("Commands")
                .section("Verification")
                .runGreen(Duration.ofMinutes(3));
        // The runbook's write and the verify step's probe are through routers too; the load's
        // first acknowledgement from the new primary is the one the recovery time counts.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> load.acks().stream().anyMatch(a -> a.epoch() == 2));
        acks = load.acks();
      }
      String out = run.output();
      assertThat(run.symptoms())
          .contains("\"state\":\"FAILING\"")
          .contains("every router serves version 1");
      assertThat(out).contains("[10/10] notify");

      // A write in flight when the region stopped may still be acknowledged by it: the recovery
      // ends at the first acknowledgement of the new epoch.
      WriteLoad.Ack first =
          acks.stream()
              .filter(a -> a.atNanos() > killedAt && a.epoch() == 2)
              .findFirst()
              .orElseThrow();
      assertThat(first.region()).isEqualTo("us-west");
      List<WriteLoad.Ack> old = acks.stream().filter(a -> a.region().equals("us-east")).toList();
      long head = old.stream().mapToLong(WriteLoad.Ack::revision).max().orElseThrow();
      // Unreachable primary: decide names the revision after which all is lost; the drain reaches
      // it, and the promotion starts the new epoch right there.
      assertThat(out).contains("how many is unknown (us-east does not answer)");
      long saved = Drills.after(out, "decide: revisions after ");
      long promoted = Drills.after(out, "at epoch 2 at revision ");
      assertThat(saved).isPositive();
      assertThat(promoted).isEqualTo(saved);
      long rpo = Math.max(0, head - promoted);
      // The leader's own state: a follower may be an entry behind.
      int westLeader = f.cluster("us-west").readyLeader();
      Map<String, String> west =
          Drills.local(f.cluster("us-west").configs().get(westLeader).self().client(), "/drill/w/");
      List<WriteLoad.Ack> lost =
          old.stream().filter(a -> !a.value().equals(west.get(a.key()))).toList();
      assertThat(lost).allMatch(a -> a.revision() > promoted);
      assertThat(old.stream().filter(a -> a.revision() <= promoted))
          .allMatch(a -> a.value().equals(west.get(a.key())));
      assertThat(lost).hasSize((int) old.stream().filter(a -> a.revision() > promoted).count());
      Duration rto = Duration.ofNanos(first.atNanos() - killedAt);

      long after = Drills.lock(f.router("us-west").url(), "/drill/locks/after", 30);
      assertThat(after).isGreaterThan(before);

      Duration refusedAfter = oldPrimaryRefuses(f, eastNodes[0]);

      System.out.printf(
          "region-failure drill: RTO %d ms (SIGKILL of every us-east member to the first write"
              + " us-west acknowledged through a router); RPO %d revisions (old primary acknowledged"
              + " through %d, new primary promoted at %d; decide said: after %d), %d acknowledged"
              + " writes lost of %d; fencing tokens %d -> %d; the restarted old primary refused"
              + " direct writes and linearizable reads %d ms after it had a leader again (limit"
              + " %d ms)%n",
          rto.toMillis(),
          rpo,
          head,
          promoted,
          saved,
          lost.size(),
          old.size(),
          before,
          after,
          refusedAfter.toMillis(),
          Drills.WRITE_AUTHORITY_MS);
    }
  }

  /**
   * Restarts the old primary region's processes, unfenced and PRIMARY at epoch 1 in their own
   * cluster: routers send it nothing, the bridge (following roles) ships nothing from it since a
   * region is PRIMARY at a higher epoch, and it refuses a direct write and a linearizable read once
   * its unshipped changes are older than its write-authority limit. Returns how long after it had a
   * leader again the first refusal of both came.
   */
  private static Duration oldPrimaryRefuses(DevFederation f, ProcessRegion east) throws Exception {
    for (int i = 0; i < east.size(); i++) {
      east.start(i);
    }
    int leader = east.awaitLeader();
    long back = System.nanoTime();
    KVGrpc.KVBlockingStub direct = Drills.stub(east.url(leader), KVGrpc.KVBlockingStub.class);
    await()
        .atMost(Duration.ofMillis(Drills.WRITE_AUTHORITY_MS + 30_000))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                refusal(
                        () ->
                            direct.put(
                                PutRequest.newBuilder()
                                    .setKey("/drill/stale")
                                    .setValue(ByteString.copyFromUtf8("x"))
                                    .build()))
                    == Error.Code.FENCED);
    Duration refusedAfter = Duration.ofNanos(System.nanoTime() - back);
    assertThat(
            refusal(
                () ->
                    direct.range(
                        RangeRequest.newBuilder()
                            .setKey("/drill/w/")
                            .setPrefix(true)
                            .setConsistency(Consistency.LINEARIZABLE)
                            .build())))
        .isEqualTo(Error.Code.FENCED);
    // None of the refused writes took effect: the key was never written anywhere.
    assertThat(Drills.local(east.url(leader), "/drill/stale")).isEmpty();
    // Writes through either router go to the new primary only.
    for (String router : List.of(f.router("us-east").url(), f.router("us-west").url())) {
      ResponseHeader h =
          Drills.stub(router, KVGrpc.KVBlockingStub.class)
              .put(
                  PutRequest.newBuilder()
                      .setKey("/drill/after-restart")
                      .setValue(ByteString.copyFromUtf8(router))
                      .build())
              .getHeader();
      assertThat(h.getRegion()).isEqualTo("us-west");
      assertThat(h.getEpoch()).isEqualTo(2);
    }
    return refusedAfter;
  }

  /** The error code {@code call} fails with, or null when it succeeds. */
  private static Error.Code refusal(Runnable call) {
    try {
      call.run();
      return null;
    } catch (StatusRuntimeException e) {
      return Stubs.failure(e).code();
    }
  }
}
