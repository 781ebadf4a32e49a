package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.client.Stubs;
import io.meridian.launcher.DevFederation;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/region-failure.md, run as written, measured: a steady write load through the primary
 * region's router, every member of the primary region stopped, the runbook's failover. It prints
 * the recovery time (from the stop to the first write the new primary acknowledged through a
 * router) and the recovery point (revisions the old primary acknowledged that the new one lacks),
 * and checks the point against what the decide step said, that every acknowledged write the change
 * topic held survived, that the old primary takes no write once it is back, and that the new
 * primary's fencing tokens are above the old one's.
 */
@Tag("cluster")
@Tag("drill")
class RegionFailureDrillTest {
  @TempDir Path dir;

  @Test
  void theStandbyTakesOverLosingOnlyWhatNeverReachedTheTopic() throws Exception {
    try (DevFederation f = Drills.federation(dir.resolve("dev"), 1);
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
        f.stopRegion("us-east");

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
      Map<String, String> west =
          Drills.local(f.cluster("us-west").configs().get(0).self().client(), "/drill/w/");
      List<WriteLoad.Ack> lost =
          old.stream().filter(a -> !a.value().equals(west.get(a.key()))).toList();
      assertThat(lost).allMatch(a -> a.revision() > promoted);
      assertThat(old.stream().filter(a -> a.revision() <= promoted))
          .allMatch(a -> a.value().equals(west.get(a.key())));
      assertThat(lost).hasSize((int) old.stream().filter(a -> a.revision() > promoted).count());
      Duration rto = Duration.ofNanos(first.atNanos() - killedAt);

      long after = Drills.lock(f.router("us-west").url(), "/drill/locks/after", 30);
      assertThat(after).isGreaterThan(before);

      Duration refusedAfter = oldPrimaryRefusesWrites(f);

      System.out.printf(
          "region-failure drill: RTO %d ms (stop of us-east to the first write us-west"
              + " acknowledged through a router); RPO %d revisions (old primary acknowledged"
              + " through %d, new primary promoted at %d; decide said: after %d), %d acknowledged"
              + " writes lost of %d; fencing tokens %d -> %d; the restarted old primary refused"
              + " direct writes %d ms after it was back (limit %d ms)%n",
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
   * Restarts the old primary region, unfenced and PRIMARY at epoch 1 in its own cluster: routers
   * send it nothing, and it refuses a direct write once its unshipped changes are older than its
   * write-authority limit. Returns how long after its restart the first refusal came.
   */
  private static Duration oldPrimaryRefusesWrites(DevFederation f) throws Exception {
    // The runbook points the bridge at the new primary after the failover; this bridge cannot be
    // pointed elsewhere, so it stops.
    f.bridge().close();
    f.restartRegion("us-east");
    await().atMost(Duration.ofSeconds(60)).until(() -> f.cluster("us-east").ready());
    long back = System.nanoTime();
    String oldMember = f.cluster("us-east").configs().get(0).self().client();
    KVGrpc.KVBlockingStub direct = Drills.stub(oldMember, KVGrpc.KVBlockingStub.class);
    Error.Code[] refusal = new Error.Code[1];
    await()
        .atMost(Duration.ofMillis(Drills.WRITE_AUTHORITY_MS + 5000))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              try {
                direct.put(
                    PutRequest.newBuilder()
                        .setKey("/drill/stale")
                        .setValue(ByteString.copyFromUtf8("x"))
                        .build());
                return false;
              } catch (StatusRuntimeException e) {
                refusal[0] = Stubs.failure(e).code();
                return refusal[0] == Error.Code.FENCED;
              }
            });
    Duration refusedAfter = Duration.ofNanos(System.nanoTime() - back);
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
}
