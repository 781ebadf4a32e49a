package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.Role;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.client.MeridianClient;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.state.ShardState;
import io.meridian.testing.LocalFederation;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * runbooks/restore-to-a-point-in-time.md, run as written: a primary whose bridge ships every
 * revision to a real broker; the runbook's snapshot step, more writes, then a mistaken delete of
 * the whole prefix; the runbook restores a one-member cluster to the revision before the mistake.
 * The restored member must hold exactly what was there then.
 */
@Tag("cluster")
@Tag("drill")
class RestoreToAPointInTimeDrillTest {
  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir Path dir;

  @Test
  void theRestoredMemberHoldsWhatWasWrittenBeforeTheMistake() throws Exception {
    try (LocalFederation regions =
            LocalFederation.builder(dir.resolve("fed"))
                .primary("east")
                .shard(0)
                .members(1)
                .start();
        RunbookDrill drill = new RunbookDrill("restore-to-a-point-in-time.md", dir)) {
      regions.awaitReady();
      String endpoints = String.join(",", regions.region("east").urls());
      try (MeridianClient primary =
              MeridianClient.builder()
                  .endpoints(regions.region("east").urls())
                  .shard(0)
                  .requestTimeout(Duration.ofSeconds(20))
                  .build();
          Bridge bridge = Bridge.start(bridgeConfig(endpoints))) {
        Map<String, String> written = new TreeMap<>();
        put(primary, written, 0, 20);
        Path snapshot = dir.resolve("s0.msnap");
        drill
            .set("ENDPOINTS", endpoints)
            .set("SHARD", 0)
            .set("SNAPSHOT", snapshot)
            .step("snapshot")
            .runGreen(Duration.ofMinutes(2));
        // After the snapshot, so the restore must replay them from the topic.
        put(primary, written, 20, 30);
        put(primary, written, 5, 10);
        long good = replica(regions).read(ShardState::revision);
        primary
            .kv()
            .delete(DeleteRangeRequest.newBuilder().setKey("/app/").setPrefix(true).build());
        long last = replica(regions).read(ShardState::revision);
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> replica(regions).read(ShardState::shipped) >= last);

        DevCluster planned =
            DevCluster.plan(
                dir.resolve("restored"),
                1,
                "east",
                Map.of("raft", DevCluster.FAST_ELECTIONS),
                Map.of(0, Role.STANDBY));
        NodeConfig c = planned.configs().get(0);
        RunbookDrill.Run run =
            drill
                .set("PREFIX", "/app/")
                .set("KAFKA", kafka.bootstrapServers())
                .set("TO_REVISION", good)
                .set("REGION", "east")
                .set("PEERS", c.member() + "=" + c.self().peer())
                .set("MEMBER", c.member())
                .set("DATA_DIR", c.dataDir())
                .set("NODE_CONFIG", Drills.writeConfig(c, dir.resolve("restored.yaml")))
                .set("NODE_LOG", dir.resolve("restored.log"))
                .set("NEW_ENDPOINTS", c.self().client())
                .section("Symptoms")
                .section("Commands")
                .section("Verification")
                .runGreen(Duration.ofMinutes(4));

        assertThat(run.symptoms()).contains("/app/k29");
        assertThat(run.output()).contains("revision " + good + ", epoch").contains("30 keys");
        Map<String, String> restored =
            GrpcClients.newClient(c.self().client(), KVGrpc.KVBlockingStub.class)
                .range(RangeRequest.newBuilder().setKey("/app/").setPrefix(true).build())
                .getKvsList()
                .stream()
                .collect(
                    Collectors.toMap(
                        KeyValue::getKey,
                        kv -> kv.getValue().toStringUtf8(),
                        (a, b) -> a,
                        TreeMap::new));
        assertThat(restored).isEqualTo(written);
      }
    }
  }

  /** Puts /app/k{from..to-1}, each value naming its round, and records what the key holds. */
  private static void put(MeridianClient primary, Map<String, String> written, int from, int to) {
    for (int i = from; i < to; i++) {
      String key = "/app/k" + i;
      String value = "v" + i + "@" + written.size();
      primary
          .kv()
          .put(
              PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).build());
      written.put(key, value);
    }
  }

  private static ShardReplica replica(LocalFederation regions) {
    return regions.region("east").node(0).replicas().stream()
        .filter(r -> r.shard() == 0)
        .findFirst()
        .orElseThrow();
  }

  private static BridgeConfig bridgeConfig(String source) {
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
            + "]\n");
  }
}
