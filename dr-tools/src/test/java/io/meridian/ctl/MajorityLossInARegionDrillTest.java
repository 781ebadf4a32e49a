package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.DevCluster;
import io.meridian.launcher.DevFederation;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/majority-loss-in-a-region.md, run as written: two of the primary region's three members
 * stopped for good, the shard failed over to the standby region. Writes through the routers must
 * then be taken by the standby's cluster at the new epoch.
 */
@Tag("cluster")
@Tag("drill")
class MajorityLossInARegionDrillTest {
  @TempDir Path dir;

  @Test
  void theShardIsFailedOverToTheStandbyRegion() throws Exception {
    try (DevFederation f = Drills.federation(dir.resolve("dev"), 3);
        RunbookDrill drill = new RunbookDrill("majority-loss-in-a-region.md", dir)) {
      String east = f.router("us-east").url();
      KVGrpc.KVBlockingStub kv = Drills.stub(east, KVGrpc.KVBlockingStub.class);
      for (int i = 0; i < 20; i++) {
        kv.put(
            PutRequest.newBuilder()
                .setKey("/drill/k" + i)
                .setValue(ByteString.copyFromUtf8("v" + i))
                .build());
      }
      DevCluster lost = f.cluster("us-east");
      lost.stop(0);
      lost.stop(1);

      RunbookDrill.Run run =
          drill
              .set("ENDPOINTS", Drills.members(f, "us-east"))
              .set("ROUTERS", Drills.routers(f))
              .set("SHARD", 0)
              .set("REGION", "us-east")
              .set("STANDBY", "us-west")
              .set("KAFKA", f.bridge().config().kafka().bootstrapServers())
              .section("Symptoms")
              .section("Commands")
              .section("Verification")
              .runGreen(Duration.ofMinutes(3));

      assertThat(run.symptoms()).contains("unreachable");
      assertThat(run.output()).contains("decide: ").contains("[10/10] notify");
      ResponseHeader h =
          kv.put(
                  PutRequest.newBuilder()
                      .setKey("/drill/after")
                      .setValue(ByteString.copyFromUtf8("x"))
                      .build())
              .getHeader();
      assertThat(h.getRegion()).isEqualTo("us-west");
      assertThat(h.getEpoch()).isEqualTo(2);
      assertThat(Drills.local(f.cluster("us-west").configs().get(0).self().client(), "/drill/k"))
          .hasSize(20);
    }
  }
}
