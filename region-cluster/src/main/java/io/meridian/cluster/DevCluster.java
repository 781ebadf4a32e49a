package io.meridian.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.meridian.api.v1.Role;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.raft.WholeClusterStop;
import io.meridian.serving.LoopbackPorts;
import io.meridian.serving.Shutdown;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A region cluster of {@code size} members on loopback, in this JVM: what {@code bin/meridian dev}
 * runs and what the tests start. Shard 0 is PRIMARY at epoch 1. Its layout is written to {@code
 * <stateDir>/topology.json}.
 */
public final class DevCluster implements AutoCloseable {
  /**
   * Raft timing for clusters that must fail over quickly (tests, demos): an election within 300–600
   * ms of a leader's loss, where a node's default is 1–2 s. Merge it as the {@code raft} section of
   * {@link #plan}'s overrides.
   */
  public static final Map<String, Object> FAST_ELECTIONS =
      Map.of("election-timeout-min-ms", 300, "election-timeout-max-ms", 600);

  private final Path stateDir;
  private final List<NodeConfig> configs;
  private final List<MeridianNode> nodes = new ArrayList<>();
  private final NodeClock clock;

  private DevCluster(Path stateDir, List<NodeConfig> configs, NodeClock clock) {
    this.stateDir = stateDir;
    // Members added later (startMember) join the list.
    this.configs = new ArrayList<>(configs);
    this.clock = clock;
  }

  /**
   * Plans a cluster on free loopback ports, or on the ports it had if {@code stateDir} holds a
   * cluster planned before; call {@link #start()} to run it.
   */
  public static DevCluster plan(Path stateDir, int size, String region) {
    return plan(stateDir, size, region, Map.of());
  }

  /**
   * Plans a cluster with extra YAML sections (e.g. {@code raft}, {@code lease}) merged into every
   * member's config.
   */
  public static DevCluster plan(
      Path stateDir, int size, String region, Map<String, Map<String, Object>> overrides) {
    return plan(stateDir, size, region, overrides, Map.of(0, Role.PRIMARY));
  }

  /** Plans a cluster whose members replicate every shard in {@code shards}, each in its role. */
  public static DevCluster plan(
      Path stateDir,
      int size,
      String region,
      Map<String, Map<String, Object>> overrides,
      Map<Integer, Role> shards) {
    List<int[]> ports = previousPorts(stateDir, size);
    if (ports.isEmpty()) {
      for (int i = 0; i < size; i++) {
        ports.add(new int[] {LoopbackPorts.free(), LoopbackPorts.free()});
      }
    }
    // Members serving TLS (a tls.cert-file override) are listed at https:// URLs.
    String scheme =
        overrides.getOrDefault("tls", Map.of()).getOrDefault("cert-file", "").toString().isEmpty()
            ? "http"
            : "https";
    List<Map<String, Object>> members = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      members.add(
          Map.of(
              "id", "n" + (i + 1),
              "peer", "127.0.0.1:" + ports.get(i)[1],
              "client", scheme + "://127.0.0.1:" + ports.get(i)[0]));
    }
    List<NodeConfig> configs = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < size; i++) {
      Map<String, Object> yaml = new LinkedHashMap<>();
      yaml.put("member", "n" + (i + 1));
      yaml.put("region", region);
      yaml.put("data-dir", stateDir.resolve("n" + (i + 1)).toString());
      yaml.put("client", Map.of("host", "127.0.0.1", "port", ports.get(i)[0]));
      yaml.put("peer", Map.of("host", "127.0.0.1", "port", ports.get(i)[1]));
      yaml.put("members", members);
      List<Map<String, Object>> shardList = new ArrayList<>();
      shards.forEach(
          (id, role) -> shardList.add(Map.of("id", id, "role", role.name(), "epoch", 1)));
      yaml.put("shards", shardList);
      yaml.putAll(overrides);
      try {
        // JSON is YAML: one parser and one set of checks for every config.
        configs.add(NodeConfig.parse(json.writeValueAsString(yaml)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return new DevCluster(stateDir, configs, NodeClock.system());
  }

  /** A cluster of the given members' configs, as planned (tests vary one member's config). */
  public static DevCluster of(Path stateDir, List<NodeConfig> configs) {
    return new DevCluster(stateDir, List.copyOf(configs), NodeClock.system());
  }

  /** The same plan with every member reading time from {@code clock} (tests drive it by hand). */
  public DevCluster withClock(NodeClock clock) {
    return new DevCluster(stateDir, configs, clock);
  }

  /**
   * The client and peer ports of the {@code size} members a cluster planned in {@code stateDir}
   * before used (from its {@code topology.json}), or none. A restarted cluster keeps its addresses:
   * each member's Raft log records its peers' addresses, so new ones would find nobody.
   */
  private static List<int[]> previousPorts(Path stateDir, int size) {
    Path topology = stateDir.resolve("topology.json");
    List<int[]> ports = new ArrayList<>();
    if (!Files.isRegularFile(topology)) {
      return ports;
    }
    try {
      com.fasterxml.jackson.databind.JsonNode processes =
          new ObjectMapper().readTree(topology.toFile()).path("processes");
      for (int i = 0; i < size; i++) {
        String member = "n" + (i + 1);
        for (com.fasterxml.jackson.databind.JsonNode p : processes) {
          if (member.equals(p.path("member").asText())) {
            ports.add(
                new int[] {
                  java.net.URI.create(p.path("client_url").asText()).getPort(),
                  Integer.parseInt(p.path("peer_address").asText().replaceAll(".*:", ""))
                });
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          topology
              + ": unreadable ("
              + e.getMessage()
              + "); remove the state directory to start"
              + " afresh",
          e);
    }
    if (ports.size() != size) {
      throw new IllegalStateException(
          topology
              + ": planned for "
              + ports.size()
              + " members, not "
              + size
              + "; remove the state directory to start afresh");
    }
    return ports;
  }

  /** Starts every member and writes {@code topology.json}. */
  public DevCluster start() throws IOException {
    // All at once: a member started alone waits for the others with no leader, and its peers'
    // connection attempts to members not yet started fill the log with refusals.
    List<java.util.concurrent.CompletableFuture<MeridianNode>> starting = new ArrayList<>();
    for (NodeConfig config : configs) {
      java.util.concurrent.CompletableFuture<MeridianNode> started =
          new java.util.concurrent.CompletableFuture<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  started.complete(MeridianNode.start(config, clock));
                } catch (Throwable e) {
                  started.completeExceptionally(e);
                }
              },
              "meridian-start-" + config.member());
      t.start();
      starting.add(started);
    }
    Throwable failure = null;
    for (java.util.concurrent.CompletableFuture<MeridianNode> f : starting) {
      try {
        nodes.add(f.join());
      } catch (java.util.concurrent.CompletionException e) {
        nodes.add(null);
        failure = failure == null ? e.getCause() : failure;
      }
    }
    if (failure != null) {
      close();
      if (failure instanceof IOException io) {
        throw io;
      }
      if (failure instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException("a member failed to start: " + failure, failure);
    }
    writeTopology();
    return this;
  }

  /**
   * The config of a new member {@code id} that joins this cluster: free loopback ports, a data
   * directory beside the others', the first member's settings and shards, and the members of the
   * first member's config plus itself as a {@code LISTENER}, so it waits to be added ({@code
   * meridianctl member add}) and cannot start an election before.
   */
  public NodeConfig planJoining(String id) {
    NodeConfig base = configs.get(0);
    int client = LoopbackPorts.free();
    int peer = LoopbackPorts.free();
    List<NodeConfig.Member> members = new ArrayList<>(base.members());
    members.add(
        new NodeConfig.Member(
            id,
            "127.0.0.1:" + peer,
            base.tls().scheme() + "://127.0.0.1:" + client,
            NodeConfig.MemberRole.LISTENER));
    return new NodeConfig(
        id,
        base.region(),
        stateDir.resolve(id).toString(),
        new NodeConfig.Endpoint("127.0.0.1", client),
        new NodeConfig.Endpoint("127.0.0.1", peer),
        List.copyOf(members),
        base.shards(),
        base.raft(),
        base.lease(),
        base.lock(),
        base.storage(),
        base.watch(),
        base.registry(),
        base.backup(),
        base.replication(),
        base.clusterToken(),
        base.tls(),
        base.peerTls());
  }

  /**
   * Starts a node of {@code config} (e.g. {@link #planJoining}) as one more member of this cluster:
   * stopped with it, and in {@code topology.json}.
   *
   * @return its index
   */
  public int startMember(NodeConfig config) throws IOException {
    MeridianNode node = MeridianNode.start(config, clock);
    configs.add(config);
    nodes.add(node);
    writeTopology();
    return nodes.size() - 1;
  }

  /** Stops member {@code index} abruptly (its servers close; its data stays). */
  public void stop(int index) {
    MeridianNode node = nodes.set(index, null);
    if (node != null) {
      node.close();
    }
  }

  /** Starts member {@code index} again from its data directory. */
  public void restart(int index) throws IOException {
    stop(index);
    nodes.set(index, MeridianNode.start(configs.get(index), clock));
  }

  public List<MeridianNode> nodes() {
    return nodes;
  }

  /**
   * The index of the member that leads the first shard, has started its term and initialized the
   * shard: the cluster is ready for requests once there is one. -1 if none yet.
   */
  public int readyLeader() {
    return readyLeader(0);
  }

  /** Whether every shard the members replicate has a ready leader (see {@link #readyLeader}). */
  public boolean ready() {
    MeridianNode any = nodes.stream().filter(n -> n != null).findFirst().orElse(null);
    if (any == null) {
      return false;
    }
    for (int shard = 0; shard < any.replicas().size(); shard++) {
      if (readyLeader(shard) < 0) {
        return false;
      }
    }
    return true;
  }

  private int readyLeader(int replicaIndex) {
    for (int i = 0; i < nodes.size(); i++) {
      MeridianNode n = nodes.get(i);
      if (n == null) {
        continue;
      }
      ShardReplica r = n.replicas().get(replicaIndex);
      var info = r.info();
      if (info != null
          && info.isLeader()
          && r.leaseClock().ready()
          && r.read(s -> s.initialized())) {
        return i;
      }
    }
    return -1;
  }

  public MeridianNode node(int index) {
    return nodes.get(index);
  }

  public List<NodeConfig> configs() {
    return configs;
  }

  public Path stateDir() {
    return stateDir;
  }

  private void writeTopology() throws IOException {
    List<Map<String, Object>> processes = new ArrayList<>();
    for (NodeConfig c : configs) {
      NodeConfig.Member self = c.self();
      processes.add(
          Map.of(
              "kind", "node",
              "region", c.region(),
              "shards", c.shards().stream().map(NodeConfig.ShardSpec::id).toList(),
              "member", c.member(),
              "client_url", self.client(),
              "peer_address", self.peer(),
              "data_dir", c.dataDir()));
    }
    Files.createDirectories(stateDir);
    new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .writeValue(stateDir.resolve("topology.json").toFile(), Map.of("processes", processes));
  }

  /** Stops every member at once. */
  @Override
  public void close() {
    List<AutoCloseable> members = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      int index = i;
      members.add(() -> stop(index));
    }
    try (WholeClusterStop stop = WholeClusterStop.begin()) {
      Shutdown.closeAll("region", members);
    }
  }
}
