package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.client.Stubs;
import io.meridian.testing.LocalFederation;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/kafka-outage.md, run as written: a primary and a standby with a bridge shipping to a
 * real broker; the broker stopped until the primary lost its write authority (the runbook's
 * symptoms), then started again; the runbook's wait must see the authority come back by itself.
 */
@Tag("cluster")
@Tag("drill")
class KafkaOutageDrillTest {
  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir Path dir;

  @Test
  void writeAuthorityIsLostWhileKafkaIsDownAndComesBackByItself() throws Exception {
    try (LocalFederation regions =
            LocalFederation.builder(dir.resolve("fed"))
                .primary("east")
                .standby("west")
                .members(1)
                .set("replication", "write-authority-ms", Drills.WRITE_AUTHORITY_MS)
                .start();
        RunbookDrill drill = new RunbookDrill("kafka-outage.md", dir)) {
      regions.awaitReady();
      String primary = regions.region("east").urls().get(0);
      KVGrpc.KVBlockingStub kv = Drills.stub(primary, KVGrpc.KVBlockingStub.class);
      try (Bridge bridge =
          Bridge.start(bridgeConfig(primary, regions.region("west").urls().get(0)))) {
        await().atMost(Duration.ofSeconds(60)).until(bridge::healthy);
        put(kv, "/drill/before");
        // Shipped and applied: the bridge has reported to the primary, which now owes shipping.
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    Drills.local(regions.region("west").urls().get(0), "/drill/")
                        .containsKey("/drill/before"));
        kafka.broker().stop();
        try {
          // Written while Kafka is down: unshipped, so the authority goes once it is old enough.
          put(kv, "/drill/unshipped");
          await()
              .atMost(Duration.ofMillis(Drills.WRITE_AUTHORITY_MS + 20_000))
              .pollInterval(Duration.ofMillis(200))
              .until(() -> refusal(kv) == Error.Code.FENCED);
          // The bridge sees the broker gone within its producer's 10 s block time.
          await().atMost(Duration.ofSeconds(60)).until(() -> !bridge.healthy());
          drill
              .set("ENDPOINTS", String.join(",", regions.region("east").urls()))
              .set("MEMBER_URL", primary)
              .set("SHARD", 0)
              .set("BRIDGE", bridge.url())
              .set("PROBE_KEY", "/drill/probe")
              .section("Symptoms");
          RunbookDrill.Run down = drill.run(Duration.ofMinutes(2));
          assertThat(down.symptoms())
              .contains("503")
              .contains("WRITE_AUTHORITY_LOST")
              .containsPattern("(?m)^meridian_write_authority\\S* 0");
        } finally {
          kafka.broker().start();
        }
        RunbookDrill.Run back =
            drill.section("Commands").section("Verification").runGreen(Duration.ofMinutes(3));
        assertThat(back.output())
            .containsPattern("(?m)^HEALTHY\\s*$")
            .containsPattern("(?m)^meridian_write_authority\\S* 1");
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    Drills.local(regions.region("west").urls().get(0), "/drill/")
                        .containsKey("/drill/unshipped"));
      }
    }
  }

  private static void put(KVGrpc.KVBlockingStub kv, String key) {
    kv.put(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8("x")).build());
  }

  private static Error.Code refusal(KVGrpc.KVBlockingStub kv) {
    try {
      put(kv, "/drill/try");
      return null;
    } catch (StatusRuntimeException e) {
      return Stubs.failure(e).code();
    }
  }

  private static BridgeConfig bridgeConfig(String source, String sink) {
    return BridgeConfig.parse(
        "listen: {port: 0}\n"
            + "kafka: {bootstrap-servers: '"
            + kafka.bootstrapServers()
            + "', replication-factor: 1, min-insync-replicas: 1}\n"
            + "retry: {initial-backoff-ms: 100, max-backoff-ms: 1000}\n"
            + "shards:\n"
            + "  - id: 0\n"
            + "    source: ["
            + source
            + "]\n"
            + "    sinks: {west: ["
            + sink
            + "]}\n");
  }
}
