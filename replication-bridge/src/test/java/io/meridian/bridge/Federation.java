package io.meridian.bridge;

import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.Role;
import io.meridian.client.MeridianClient;
import io.meridian.cluster.node.DevCluster;
import io.meridian.cluster.node.MeridianNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One shard of a test federation: a PRIMARY cluster in "east", a STANDBY cluster in "west" (one
 * member each unless asked for more), and bridge configs between them through a real broker.
 */
final class Federation implements AutoCloseable {
  final int shard;
  final DevCluster east;
  final DevCluster west;
  final MeridianClient primary;
  final MeridianClient standby;
  private final String kafka;
  private final List<String> eastUrls;
  private final List<String> westUrls;

  Federation(Path dir, int shard, String kafka) throws IOException {
    this(dir, shard, kafka, 1);
  }

  Federation(Path dir, int shard, String kafka, int members) throws IOException {
    this.shard = shard;
    this.kafka = kafka;
    Map<String, Map<String, Object>> o = new HashMap<>();
    o.put(
        "raft",
        new HashMap<>(Map.of("election-timeout-min-ms", 300, "election-timeout-max-ms", 600)));
    this.east =
        DevCluster.plan(dir.resolve("east"), members, "east", o, Map.of(shard, Role.PRIMARY));
    this.west =
        DevCluster.plan(dir.resolve("west"), members, "west", o, Map.of(shard, Role.STANDBY));
    east.start();
    west.start();
    await().atMost(Duration.ofSeconds(30)).until(() -> east.readyLeader() >= 0);
    await().atMost(Duration.ofSeconds(30)).until(() -> west.readyLeader() >= 0);
    this.eastUrls = urls(east);
    this.westUrls = urls(west);
    this.primary = client(eastUrls);
    this.standby = client(westUrls);
  }

  private MeridianClient client(List<String> urls) {
    return MeridianClient.builder()
        .endpoints(urls)
        .shard(shard)
        .requestTimeout(Duration.ofSeconds(20))
        .build();
  }

  /** A bridge config: the source when {@code source}, the west sink when {@code sink}. */
  BridgeConfig config(boolean source, boolean sink, Map<String, Object> kafkaExtras) {
    Map<String, Object> k = new LinkedHashMap<>();
    k.put("bootstrap-servers", kafka);
    k.put("replication-factor", 1);
    k.put("min-insync-replicas", 1);
    k.putAll(kafkaExtras);
    Map<String, Object> shardConfig = new LinkedHashMap<>();
    shardConfig.put("id", shard);
    if (source) {
      shardConfig.put("source", eastUrls);
    }
    if (sink) {
      shardConfig.put("sinks", Map.of("west", westUrls));
    }
    Map<String, Object> yaml = new LinkedHashMap<>();
    yaml.put("listen", Map.of("port", 0));
    yaml.put("kafka", k);
    yaml.put("retry", Map.of("initial-backoff-ms", 100, "max-backoff-ms", 1000));
    yaml.put("shards", List.of(shardConfig));
    try {
      return BridgeConfig.parse(
          new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(yaml));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> urls(DevCluster c) {
    return c.nodes().stream().map(MeridianNode::clientUrl).toList();
  }

  static ReplicationState state(MeridianClient c) {
    return Progress.await(
            io.meridian.client.Stubs.call(
                c.stubs().replication()::replicationStatus,
                ReplicationStatusRequest.getDefaultInstance(),
                true))
        .getState();
  }

  /** Waits until the standby has every revision the primary has, with the same chain hash. */
  void awaitCaughtUp(Duration atMost) {
    await()
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              ReplicationState p = state(primary);
              ReplicationState s = state(standby);
              return p.getRevision() == s.getRevision()
                  && p.getChainHash().equals(s.getChainHash());
            });
  }

  @Override
  public void close() {
    List<AutoCloseable> all = new ArrayList<>(List.of(primary, standby, west, east));
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        // Best effort: the next one still closes.
      }
    }
  }
}
