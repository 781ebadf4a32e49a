package io.meridian.testing;

import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.Role;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.internal.NodeClock;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real region cluster in this JVM: its members on free loopback ports, each a full node (Raft,
 * gRPC and HTTP), with elections in 300–600 ms so failover tests stay short.
 *
 * <pre>{@code
 * try (LocalRegion east = LocalRegion.builder(dir).members(3).region("east").start()) {
 *   int leader = east.awaitReady();
 *   MeridianClient client = MeridianClient.builder().endpoints(east.urls()).build();
 * }
 * }</pre>
 */
public final class LocalRegion implements AutoCloseable {
  /** How long a cluster may take to elect a leader that started its term, on a loaded machine. */
  static final Duration READY_WITHIN = Duration.ofSeconds(30);

  private final DevCluster cluster;

  private LocalRegion(DevCluster cluster) {
    this.cluster = cluster;
  }

  /** A builder of a region whose members keep their data under {@code dir}. */
  public static Builder builder(Path dir) {
    return new Builder(dir);
  }

  /** The cluster itself: its members, their configs and their Raft state. */
  public DevCluster cluster() {
    return cluster;
  }

  /** Member {@code index}'s node (null while it is stopped). */
  public MeridianNode node(int index) {
    return cluster.node(index);
  }

  /** The members' client URLs, in member order. */
  public List<String> urls() {
    return cluster.configs().stream()
        .map(c -> c.tls().scheme() + "://" + c.client().host() + ":" + c.client().port())
        .toList();
  }

  /**
   * The index of the member that leads, has started its term and initialized the shard; -1 if none
   * is ready now.
   */
  public int readyLeader() {
    return cluster.readyLeader();
  }

  /**
   * Waits until a member leads every shard, has started its term and initialized the shard.
   *
   * @return that member's index
   */
  public int awaitReady() {
    int[] leader = {-1};
    await().atMost(READY_WITHIN).until(() -> (leader[0] = cluster.readyLeader()) >= 0);
    return leader[0];
  }

  /** Stops member {@code index} abruptly; its data stays for {@link #restart}. */
  public void kill(int index) {
    cluster.stop(index);
  }

  /** Starts member {@code index} again from its data. */
  public void restart(int index) throws IOException {
    cluster.restart(index);
  }

  @Override
  public void close() {
    cluster.close();
  }

  /** Builds a {@link LocalRegion}; every setting has a default. */
  public static final class Builder {
    private final Path dir;
    private int members = 3;
    private String region = "test";
    private final Map<Integer, Role> shards = new LinkedHashMap<>();
    private final Map<String, Map<String, Object>> overrides = new HashMap<>();
    private NodeClock clock = NodeClock.system();
    private boolean fastElections = true;

    private Builder(Path dir) {
      this.dir = dir;
    }

    /** How many voting members (default 3). */
    public Builder members(int members) {
      if (members < 1) {
        throw new IllegalArgumentException("members: " + members + " (expected: >= 1)");
      }
      this.members = members;
      return this;
    }

    /** The region's name (default {@code test}). */
    public Builder region(String region) {
      this.region = region;
      return this;
    }

    /** Adds shard {@code id} in {@code role} (default: shard 0 as the PRIMARY). */
    public Builder shard(int id, Role role) {
      shards.put(id, role);
      return this;
    }

    /**
     * Sets one key of one section of every member's config, e.g. ("lease", "min-ttl-seconds", 1).
     */
    public Builder set(String section, String key, Object value) {
      overrides.computeIfAbsent(section, s -> new HashMap<>()).put(key, value);
      return this;
    }

    /** Keeps a node's default election timeouts instead of {@link DevCluster#FAST_ELECTIONS}. */
    public Builder defaultElections() {
      this.fastElections = false;
      return this;
    }

    /** The clock every member reads (default: the system's); tests drive a {@link ManualClock}. */
    public Builder clock(NodeClock clock) {
      this.clock = clock;
      return this;
    }

    /** Starts the members; does not wait for a leader ({@link LocalRegion#awaitReady}). */
    public LocalRegion start() throws IOException {
      Map<String, Map<String, Object>> o = new HashMap<>();
      if (fastElections) {
        o.put("raft", new HashMap<>(DevCluster.FAST_ELECTIONS));
      }
      overrides.forEach(
          (section, keys) -> o.computeIfAbsent(section, s -> new HashMap<>()).putAll(keys));
      Map<Integer, Role> roles = shards.isEmpty() ? Map.of(0, Role.PRIMARY) : shards;
      DevCluster cluster = DevCluster.plan(dir, members, region, o, roles).withClock(clock).start();
      return new LocalRegion(cluster);
    }
  }
}
