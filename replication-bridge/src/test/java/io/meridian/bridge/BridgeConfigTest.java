package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.serving.config.ConfigException;
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
  void badKeysAreRefusedByName() {
    assertRefused(
        "shards: [{id: 0, source: [http://a:1]}]",
        "kafka.bootstrap-servers",
        "missing (expected: host:port[,host:port...])");
    assertRefused(
        MINIMAL + "colour: blue\n",
        "colour",
        "unknown key (expected: one of listen, kafka, lag, retry, shards)");
    assertRefused(MINIMAL.replace("id: 0", "id: -1"), "shards[0].id", "-1 (expected: 0..32767)");
    assertRefused(
        MINIMAL.replace("http://127.0.0.1:2379", "127.0.0.1:2379"),
        "shards[0].source",
        "[\"127.0.0.1:2379\"] (expected: http://host:port URLs)");
    assertRefused(
        MINIMAL + "kafka: {bootstrap-servers: x, replication-factor: 1}\n",
        "kafka",
        "given twice (expected: each key once)");
    assertRefused(
        MINIMAL.replace(
            "kafka: {bootstrap-servers: \"127.0.0.1:9092\"}",
            "kafka: {bootstrap-servers: x, replication-factor: 1, min-insync-replicas: 2}"),
        "kafka.min-insync-replicas",
        "2 (expected: <= kafka.replication-factor 1)");
    assertRefused(
        MINIMAL.replace("sinks: {us-west: [http://127.0.0.1:3379]}", "sinks: {West: []}"),
        "shards[0].sinks",
        "{\"West\":[]} (expected: regions (lower-case letters, digits and '-'), each with");
    assertRefused(
        "kafka: {bootstrap-servers: x}\nshards: []\n",
        "shards",
        "none (expected: at least one shard to replicate)");
    assertRefused(
        MINIMAL + "  - {id: 0, sinks: {us-west: [http://127.0.0.1:3379]}}\n",
        "shards[1].id",
        "0 (expected: unique)");
    assertRefused(
        MINIMAL + "retry: {initial-backoff-ms: 500, max-backoff-ms: 100}\n",
        "retry.max-backoff-ms",
        "100 (expected: >= retry.initial-backoff-ms 500)");
  }

  @Test
  void lagLimitsSetInCodeAreCheckedLikeTheFile() {
    BridgeConfig c = BridgeConfig.parse(MINIMAL);
    assertThat(c.withLag(new BridgeConfig.Lag(5L, 60_000L)).lag().degradedRevisions()).isEqualTo(5);
    assertThatThrownBy(() -> c.withLag(new BridgeConfig.Lag(0L, 60_000L)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("bridge config: lag.degraded-revisions: 0 (expected: >= 1)");
  }

  private static void assertRefused(String yaml, String key, String problem) {
    assertThatThrownBy(() -> BridgeConfig.parse(yaml))
        .as(yaml)
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.key()).isEqualTo(key);
              assertThat(e.getMessage()).startsWith("bridge config: " + key + ": " + problem);
            });
  }
}
