package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.List;
import org.junit.jupiter.api.Test;

class BridgeConfigTest {
  private static final String MINIMAL =
      """
      kafka: {bootstrap-servers: "127.0.0.1:9092"}
      shards:
        - id: 0
          source: [http://127.0.0.1:2379]
          sinks: {us-west: [http://127.0.0.1:3379]}
      """;

  @Test
  void defaultsFillEverythingButKafkaAndShards() {
    BridgeConfig c = BridgeConfig.parse(MINIMAL);
    assertThat(c.listen().port()).isEqualTo(2391);
    assertThat(c.kafka().replicationFactor()).isEqualTo((short) 3);
    assertThat(c.kafka().minInsyncReplicas()).isEqualTo(2);
    assertThat(c.kafka().maxRecordBytes()).isEqualTo(900_000);
    assertThat(c.kafka().transactionalIdPrefix()).isEqualTo("meridian-bridge");
    assertThat(c.lag().degradedMs()).isEqualTo(30_000);
    assertThat(c.shards().get(0).sinks()).containsKey("us-west");
    assertThat(BridgeConfig.topic(7)).isEqualTo("meridian.7.changes");
  }

  @Test
  void badFieldsAreRefusedByName() {
    for (var bad :
        List.of(
            List.of("shards: [{id: 0, source: [http://a:1]}]", "kafka.bootstrap-servers"),
            List.of(MINIMAL + "colour: blue\n", "unknown field 'colour'"),
            List.of(MINIMAL.replace("id: 0", "id: -1"), "shards[].id"),
            List.of(
                MINIMAL.replace("http://127.0.0.1:2379", "127.0.0.1:2379"),
                "shards[0].source: 127.0.0.1:2379"),
            List.of(
                MINIMAL + "kafka: {bootstrap-servers: x, replication-factor: 1}\n",
                "Duplicate field 'kafka'"),
            List.of(
                MINIMAL.replace(
                    "kafka: {bootstrap-servers: \"127.0.0.1:9092\"}",
                    "kafka: {bootstrap-servers: x, replication-factor: 1, min-insync-replicas: 2}"),
                "min-insync-replicas"),
            List.of(
                MINIMAL.replace("sinks: {us-west: [http://127.0.0.1:3379]}", "sinks: {West: []}"),
                "region West"),
            List.of("kafka: {bootstrap-servers: x}\nshards: []\n", "shards: none"))) {
      assertThatThrownBy(() -> BridgeConfig.parse(bad.get(0)))
          .as(bad.get(0))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> {
                assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT);
                assertThat(e.getMessage()).contains(bad.get(1));
              });
    }
  }
}
