package io.meridian.bridge;

import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.client.MeridianClient;
import io.meridian.testing.LocalFederation;
import io.meridian.testing.LocalRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One shard of a test federation: a PRIMARY cluster in "east", a STANDBY cluster in "west" (one
 * member each unless asked for more), and bridge configs between them through a real broker.
 */
final class Federation implements AutoCloseable {
  final int shard;
  final LocalRegion east;
  final LocalRegion west;
  private final LocalFederation regions;
  final MeridianClient primary;
  final MeridianClient standby;
  private final String kafka;
  private final List<String> eastUrls;
  private final List<String> westUrls;

  Federation(Path dir, int shard, String kafka) throws IOException {
    this(dir, shard, kafka, 1);
  }

  Federation(Path dir, int shard, String kafka, int members) throws IOException {
    this(dir, shard, kafka, members, Map.of());
  }

  /**
   * @param settings node config keys by section, set on every member of both regions
   */
  Federation(
      Path dir, int shard, String kafka, int members, Map<String, Map<String, Object>> settings)
      throws IOException {
    this.shard = shard;
    this.kafka = kafka;
    LocalFederation.Builder b =
        LocalFederation.builder(dir).primary("east").standby("west").shard(shard).members(members);
    settings.forEach((section, keys) -> keys.forEach((k, v) -> b.set(section, k, v)));
    this.regions = b.start();
    regions.awaitReady();
    this.east = regions.region("east");
    this.west = regions.region("west");
    this.eastUrls = east.urls();
    this.westUrls = west.urls();
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
    Map<String, Object> shardConfig = new LinkedHashMap<>();
    shardConfig.put("id", shard);
    if (source) {
      shardConfig.put("source", eastUrls);
    }
    if (sink) {
      shardConfig.put("sinks", Map.of("west", westUrls));
    }
    return config(shardConfig, kafkaExtras);
  }

  /** A bridge config that follows the roles of east and west ({@code regions}). */
  BridgeConfig following() {
    Map<String, Object> shardConfig = new LinkedHashMap<>();
    shardConfig.put("id", shard);
    shardConfig.put("regions", Map.of("east", eastUrls, "west", westUrls));
    return config(shardConfig, Map.of());
  }

  /** A bridge config with only a static source in {@code region} ("east" or "west"). */
  BridgeConfig sourceIn(String region) {
    Map<String, Object> shardConfig = new LinkedHashMap<>();
    shardConfig.put("id", shard);
    shardConfig.put("source", region.equals("east") ? eastUrls : westUrls);
    return config(shardConfig, Map.of());
  }

  private BridgeConfig config(Map<String, Object> shardConfig, Map<String, Object> kafkaExtras) {
    Map<String, Object> k = new LinkedHashMap<>();
    k.put("bootstrap-servers", kafka);
    k.put("replication-factor", 1);
    k.put("min-insync-replicas", 1);
    k.putAll(kafkaExtras);
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

  /** Sets the shard's role in {@code c}'s region with the operator's role call. */
  static void setRole(MeridianClient c, Role role, long epoch) {
    Progress.await(
        io.meridian.client.Stubs.call(
            c.stubs().cluster()::setRole,
            SetRoleRequest.newBuilder().setRole(role).setEpoch(epoch).build(),
            true));
  }

  /** The shard's epoch in {@code c}'s region. */
  static long epoch(MeridianClient c) {
    return Progress.await(
            io.meridian.client.Stubs.call(
                c.stubs().replication()::replicationStatus,
                ReplicationStatusRequest.getDefaultInstance(),
                true))
        .getHeader()
        .getEpoch();
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
    List<AutoCloseable> all = new ArrayList<>(List.of(primary, standby, regions));
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        // Best effort: the next one still closes.
      }
    }
  }
}
