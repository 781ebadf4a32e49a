package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.launcher.DevFederation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/rejoin-after-failover.md, run as written: the old primary took two writes its bridge
 * never shipped, the shard failed over without it, it came back unfenced; the runbook's rejoin
 * writes those two revisions to the tail file and makes it a standby that follows the new primary.
 */
@Tag("cluster")
@Tag("drill")
class RejoinAfterFailoverDrillTest {
  @TempDir Path dir;

  @Test
  void theOldPrimaryComesBackAsAStandbyAndItsLostRevisionsAreInTheTailFile() throws Exception {
    try (DevFederation f = Drills.federation(dir.resolve("dev"), 1);
        RunbookDrill drill = new RunbookDrill("rejoin-after-failover.md", dir)) {
      String east = f.cluster("us-east").configs().get(0).self().client();
      KVGrpc.KVBlockingStub kv = Drills.stub(east, KVGrpc.KVBlockingStub.class);
      long shipped = put(kv, "/drill/shipped");
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  Drills.local(f.cluster("us-west").configs().get(0).self().client(), "/drill/")
                      .containsKey("/drill/shipped"));
      BridgeConfig bridgeConfig = f.bridge().config();
      f.bridge().close();
      long lost1 = put(kv, "/drill/lost1");
      long lost2 = put(kv, "/drill/lost2");
      f.stopRegion("us-east");
      CtlRun failover =
          CtlRun.ctl(
              Drills.routers(f),
              "--shard",
              "0",
              "--timeout",
              "5s",
              "failover",
              "--to",
              "us-west",
              "--kafka",
              bridgeConfig.kafka().bootstrapServers(),
              "--accept-data-loss",
              "--yes");
      assertThat(failover.code()).as(failover.out() + failover.err()).isZero();
      f.restartRegion("us-east");
      await().atMost(Duration.ofSeconds(90)).until(f::ready);

      try (Bridge bridge = Bridge.start(bridgeConfig)) {
        Path tail = dir.resolve("us-east-tail.jsonl");
        RunbookDrill.Run run =
            drill
                .set("ROUTERS", Drills.routers(f))
                .set("SHARD", 0)
                .set("OLD_REGION", "us-east")
                .set("TAIL_FILE", tail)
                .set("BRIDGE", bridge.url())
                .section("Symptoms")
                .section("Commands")
                .section("Verification")
                .runGreen(Duration.ofMinutes(4));
        assertThat(run.output())
            .contains("[3/7] divergence: revisions " + lost1 + ".." + lost2 + " (2 batches)")
            .contains("[7/7] notify");
        List<String> lines = Files.readAllLines(tail);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).contains("/drill/lost1");
        assertThat(lines.get(1)).contains("/drill/lost2");
        assertThat(shipped).isLessThan(lost1);
        System.out.printf(
            "rejoin drill: revisions %d..%d of the old primary written to %s; us-east a STANDBY"
                + " again%n",
            lost1, lost2, tail);
      }
    }
  }

  private static long put(KVGrpc.KVBlockingStub kv, String key) {
    return kv.put(
            PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8("x")).build())
        .getHeader()
        .getRevision();
  }
}
