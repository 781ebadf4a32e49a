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
        "unknown key (expected: one of listen, tls, upstream, kafka, lag, retry, shards)");
    assertRefused(MINIMAL.replace("id: 0", "id: -1"), "shards[0].id", "-1 (expected: 0..32767)");
    assertRefused(
        MINIMAL + "upstream: {cert-file: b.pem}\n",
        "upstream.key-file",
        "missing (expected: set with `upstream.cert-file`)");
    assertRefused(
        MINIMAL + "tls: {cert-file: b.pem, key-file: b-key.pem, client-auth: REQUIRE}\n",
        "tls.ca-file",
        "missing (expected: set when `tls.client-auth` is REQUIRE");
    assertRefused(
        MINIMAL.replace("http://127.0.0.1:2379", "127.0.0.1:2379"),
        "shards[0].source",
        "[\"127.0.0.1:2379\"] (expected: http(s)://host:port URLs)");
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
  void aShardGivenByItsRegionsFollowsRoles() {
    BridgeConfig c =
        BridgeConfig.parse(
            MINIMAL
                + "  - id: 1\n"
                + "    regions:\n"
                + "      us-east: [http://127.0.0.1:2379]\n"
                + "      us-west: [http://127.0.0.1:3379, http://127.0.0.1:3380]\n");
    assertThat(c.shards().get(0).followsRoles()).isFalse();
    BridgeConfig.ShardConfig following = c.shards().get(1);
    assertThat(following.followsRoles()).isTrue();
    assertThat(following.regions()).containsOnlyKeys("us-east", "us-west");
    assertThat(following.regions().get("us-west")).hasSize(2);
    assertThat(following.source()).isEmpty();
    assertThat(following.sinks()).isEmpty();
  }

  @Test
  void regionsAreRefusedBesideSourceOrSinksAndWhenMalformed() {
    assertRefused(
        MINIMAL + "    regions: {us-east: [http://127.0.0.1:2379]}\n",
        "shards[0].regions",
        "given with source (expected: either regions or source and sinks for one shard, not both:"
            + " with regions the bridge picks the source and the sinks from the regions' roles)");
    assertRefused(
        "kafka: {bootstrap-servers: x}\n"
            + "shards:\n"
            + "  - id: 0\n"
            + "    sinks: {us-west: [http://127.0.0.1:3379]}\n"
            + "    regions: {us-east: [http://127.0.0.1:2379]}\n",
        "shards[0].regions",
        "given with sinks (expected: either regions or source and sinks");
    assertRefused(
        "kafka: {bootstrap-servers: x}\nshards: [{id: 0, regions: {East: [http://a:1]}}]\n",
        "shards[0].regions",
        "{\"East\":[\"http://a:1\"]} (expected: regions (lower-case letters, digits and '-')");
    assertRefused(
        "kafka: {bootstrap-servers: x}\nshards: [{id: 0, regions: {east: [a:1]}}]\n",
        "shards[0].regions",
        "{\"east\":[\"a:1\"]} (expected: regions (lower-case letters, digits and '-')");
    assertRefused(
        "kafka: {bootstrap-servers: x}\nshards: [{id: 0}]\n",
        "shards[0].source",
        "[] (expected: a source or sinks, at least one (or regions))");
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
