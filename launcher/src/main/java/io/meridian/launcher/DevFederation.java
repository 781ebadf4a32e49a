package io.meridian.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.meridian.api.Slot;
import io.meridian.api.v1.Role;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.kafka.KafkaBroker;
import io.meridian.router.RouterConfig;
import io.meridian.router.RouterServer;
import io.meridian.router.RoutingTable;
import io.meridian.serving.Shutdown;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A federation on loopback, in this JVM: what {@code bin/meridian dev} runs and what the federation
 * tests start. Each region has one region cluster whose members host every shard's Raft group; the
 * first region is PRIMARY for every shard and the others STANDBY. Slots are split evenly across the
 * shards. A router per region serves the client API, its own region first. When the shape says
 * {@code replicated}, a Kafka broker (forked JVM) and a replication bridge ship every shard's
 * changes to the standbys; otherwise standbys stay empty. Everything is written down in {@code
 * <stateDir>/topology.json}, the routing table in {@code <stateDir>/routing-table.yaml} and the
 * bridge's config in {@code <stateDir>/bridge.yaml}.
 */
public final class DevFederation implements AutoCloseable {
  /**
   * The dev federation's shape: regions (the first is primary), shards, members per region, and
   * whether a broker and a bridge replicate the primary to the standbys.
   */
  public record Shape(List<String> regions, int shards, int membersPerRegion, boolean replicated) {
    public static Shape standard() {
      return new Shape(List.of("us-east", "us-west"), 2, 3, true);
    }
  }

  /**
   * Starts a planned region's members. The default runs them in this JVM; a test that must SIGKILL
   * or pause a region's members starts them as processes instead, and waits for them itself: {@link
   * #ready()} only checks the regions run in this JVM.
   */
  @FunctionalInterface
  public interface RegionLaunch {
    /** In this JVM: {@link DevCluster#start()}. */
    RegionLaunch IN_PROCESS = (region, planned) -> planned.start();

    /** Starts every member {@code planned} names; closing what it returns stops them. */
    AutoCloseable start(String region, DevCluster planned) throws IOException;
  }

  private final Path stateDir;
  private final Shape shape;
  private final RegionLaunch launch;
  private final Map<String, DevCluster> clusters = new LinkedHashMap<>();
  private final Map<String, AutoCloseable> running = new LinkedHashMap<>();
  private final Map<String, RouterServer> routers = new LinkedHashMap<>();
  private final Map<String, Map<String, Object>> nodeOverrides;
  private final Map<String, Object> routerOverrides;
  private RoutingTable table;
  private KafkaBroker kafka;
  private Bridge bridge;

  private DevFederation(
      Path stateDir,
      Shape shape,
      Map<String, Map<String, Object>> nodeYaml,
      Map<String, Object> routerYaml,
      RegionLaunch launch) {
    this.stateDir = stateDir;
    this.shape = shape;
    this.launch = launch;
    this.nodeOverrides = nodeYaml;
    this.routerOverrides = routerYaml;
  }

  /** Starts a federation of {@code shape} with default settings. */
  public static DevFederation start(Path stateDir, Shape shape) throws IOException {
    return start(stateDir, shape, Map.of(), Map.of());
  }

  /**
   * Starts a federation whose nodes' configs get {@code nodeYaml} sections (e.g. {@code raft}) and
   * whose routers' configs get {@code routerYaml} sections (e.g. {@code reads}, {@code namespaces})
   * merged in.
   */
  public static DevFederation start(
      Path stateDir,
      Shape shape,
      Map<String, Map<String, Object>> nodeYaml,
      Map<String, Object> routerYaml)
      throws IOException {
    return start(stateDir, shape, nodeYaml, routerYaml, RegionLaunch.IN_PROCESS);
  }

  /**
   * As {@link #start(Path, Shape, Map, Map)}, with each region's members started by {@code launch}.
   */
  public static DevFederation start(
      Path stateDir,
      Shape shape,
      Map<String, Map<String, Object>> nodeYaml,
      Map<String, Object> routerYaml,
      RegionLaunch launch)
      throws IOException {
    DevFederation f = new DevFederation(stateDir, shape, nodeYaml, routerYaml, launch);
    try {
      f.startAll();
    } catch (IOException | RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  private void startAll() throws IOException {
    Files.createDirectories(stateDir);
    String primary = shape.regions().get(0);
    for (String region : shape.regions()) {
      Map<Integer, Role> roles = new TreeMap<>();
      for (int s = 0; s < shape.shards(); s++) {
        roles.put(s, region.equals(primary) ? Role.PRIMARY : Role.STANDBY);
      }
      DevCluster cluster =
          DevCluster.plan(
              stateDir.resolve(region), shape.membersPerRegion(), region, nodeOverrides, roles);
      clusters.put(region, cluster);
      running.put(region, launch.start(region, cluster));
    }
    String tableText = tableYaml();
    Path tableFile = stateDir.resolve("routing-table.yaml");
    Files.writeString(tableFile, tableText);
    table = RoutingTable.parse(tableText);
    ObjectMapper json = new ObjectMapper();
    for (String region : shape.regions()) {
      Map<String, Object> yaml = new LinkedHashMap<>();
      yaml.put("region", region);
      yaml.put("listen", Map.of("host", "127.0.0.1", "port", 0));
      yaml.put("table", tableFile.toString());
      yaml.put("preference", shape.regions().stream().filter(r -> !r.equals(region)).toList());
      yaml.putAll(routerOverrides);
      // JSON is YAML: the same parser and checks as a router.yaml.
      RouterConfig config = RouterConfig.parse(json.writeValueAsString(yaml));
      routers.put(region, RouterServer.start(config, table));
    }
    if (shape.replicated()) {
      startReplication();
    }
    writeTopology();
  }

  /** A broker in {@code <stateDir>/kafka} and one bridge following every shard's regions. */
  private void startReplication() throws IOException {
    try {
      kafka = KafkaBroker.start(stateDir.resolve("kafka"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while the Kafka broker started", e);
    }
    // The regions form: the bridge follows each shard's roles, so the federation survives a
    // failover (and a rejoin) without a new bridge config.
    List<Map<String, Object>> shardList = new ArrayList<>();
    for (int s = 0; s < shape.shards(); s++) {
      Map<String, Object> regions = new LinkedHashMap<>();
      for (String region : shape.regions()) {
        regions.put(region, urls(region));
      }
      shardList.add(Map.of("id", s, "regions", regions));
    }
    Map<String, Object> yaml = new LinkedHashMap<>();
    yaml.put("listen", Map.of("host", "127.0.0.1", "port", 0));
    yaml.put(
        "kafka",
        Map.of(
            "bootstrap-servers", kafka.bootstrapServers(),
            "replication-factor", 1,
            "min-insync-replicas", 1));
    yaml.put("shards", shardList);
    String text = new ObjectMapper().writeValueAsString(yaml);
    Files.writeString(stateDir.resolve("bridge.yaml"), text);
    bridge = Bridge.start(BridgeConfig.parse(text));
  }

  private List<String> urls(String region) {
    return clusters.get(region).configs().stream().map(c -> c.self().client()).toList();
  }

  /** Version 1: slots split evenly, every shard in every region with the members' URLs. */
  private String tableYaml() {
    StringBuilder y = new StringBuilder("version: 1\nslots:\n");
    int per = Slot.COUNT / shape.shards();
    for (int s = 0; s < shape.shards(); s++) {
      int from = s * per;
      int to = s == shape.shards() - 1 ? Slot.COUNT - 1 : from + per - 1;
      y.append("  - {range: ").append(from).append('-').append(to);
      y.append(", shard: ").append(s).append("}\n");
    }
    y.append("shards:\n");
    for (int s = 0; s < shape.shards(); s++) {
      y.append("  - id: ").append(s).append("\n    regions:\n");
      for (String region : shape.regions()) {
        List<String> urls =
            clusters.get(region).configs().stream()
                .map(c -> '"' + c.self().client() + '"')
                .toList();
        y.append("      - {region: ").append(region);
        y.append(", role: ").append(region.equals(shape.regions().get(0)) ? "PRIMARY" : "STANDBY");
        y.append(", epoch: 1, endpoints: ").append(urls).append("}\n");
      }
    }
    return y.toString();
  }

  private void writeTopology() throws IOException {
    List<Map<String, Object>> processes = new ArrayList<>();
    for (Map.Entry<String, DevCluster> e : clusters.entrySet()) {
      for (NodeConfig c : e.getValue().configs()) {
        Map<String, String> roles = new TreeMap<>();
        c.shards().forEach(s -> roles.put(Integer.toString(s.id()), s.role().name()));
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("kind", "node");
        p.put("region", e.getKey());
        p.put("member", c.member());
        p.put("shards", roles);
        p.put("client_url", c.self().client());
        p.put("peer_address", c.self().peer());
        p.put("data_dir", c.dataDir());
        processes.add(p);
      }
    }
    if (bridge != null) {
      processes.add(Map.of("kind", "kafka", "bootstrap_servers", kafka.bootstrapServers()));
      processes.add(
          Map.of(
              "kind",
              "bridge",
              "status_url",
              bridge.url() + "/v1/bridge/status",
              "config",
              stateDir.resolve("bridge.yaml").toString()));
    }
    routers.forEach(
        (region, r) -> {
          Map<String, Object> p = new LinkedHashMap<>();
          p.put("kind", "router");
          p.put("region", region);
          p.put("client_url", r.url());
          p.put("routing_table_version", r.table().version());
          processes.add(p);
        });
    new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .writeValue(
            stateDir.resolve("topology.json").toFile(),
            Map.of(
                "regions", shape.regions(),
                "shards", shape.shards(),
                "routing_table", stateDir.resolve("routing-table.yaml").toString(),
                "processes", processes));
  }

  /**
   * Whether every region cluster run in this JVM has a ready leader for every shard; a region
   * another {@link RegionLaunch} started is its starter's to wait for.
   */
  public boolean ready() {
    return clusters.keySet().stream()
        .filter(this::inProcess)
        .allMatch(r -> clusters.get(r).ready());
  }

  private boolean inProcess(String region) {
    return running.get(region) == clusters.get(region);
  }

  /** The region cluster of {@code region}. */
  public DevCluster cluster(String region) {
    return clusters.get(region);
  }

  /** The router of {@code region}. */
  public RouterServer router(String region) {
    return routers.get(region);
  }

  /** The routing table the routers started with. */
  public RoutingTable table() {
    return table;
  }

  /** The replication bridge, or null when the shape is not replicated. */
  public Bridge bridge() {
    return bridge;
  }

  /** Stops every member of {@code region}'s cluster, run in this JVM (their data stays). */
  public void stopRegion(String region) {
    DevCluster c = inProcessCluster(region);
    for (int i = 0; i < c.nodes().size(); i++) {
      c.stop(i);
    }
  }

  /** Starts every member of {@code region}'s cluster again from its data. */
  public void restartRegion(String region) throws IOException {
    DevCluster c = inProcessCluster(region);
    for (int i = 0; i < c.nodes().size(); i++) {
      c.restart(i);
    }
  }

  private DevCluster inProcessCluster(String region) {
    if (!inProcess(region)) {
      throw new IllegalStateException(region + "'s members run outside this JVM; stop them there");
    }
    return clusters.get(region);
  }

  @Override
  public void close() {
    // The bridge first, so that it ships nothing half-way; then the rest at once.
    if (bridge != null) {
      bridge.close();
      bridge = null;
    }
    List<AutoCloseable> rest = new ArrayList<>(routers.values());
    rest.addAll(running.values());
    if (kafka != null) {
      rest.add(kafka);
    }
    Shutdown.closeAll("dev", rest);
    kafka = null;
    routers.clear();
    running.clear();
    clusters.clear();
  }
}
