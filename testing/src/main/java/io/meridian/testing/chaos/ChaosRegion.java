package io.meridian.testing.chaos;

import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A region cluster for chaos tests: every member a separate process ({@code bin/meridian node}) in
 * its own network namespace ({@link Network}), with elections in 300–600 ms and registry
 * self-preservation judged over 2 s windows, and optionally a {@link ChaosRouter} in front of it.
 * The nemesis kills, pauses, cuts and throttles its members and kills and pauses its router; the
 * workloads call them at their addresses ({@link #endpoints()}).
 */
public final class ChaosRegion implements AutoCloseable {
  static final int CLIENT_PORT = 7100;
  static final int PEER_PORT = 7101;

  /** The registry's self-preservation window on every member. */
  public static final long REGISTRY_WINDOW_MS = 2000;

  private final Path dir;
  private final Network network;
  private final ProcessRegion nodes;
  private ChaosRouter router;

  private ChaosRegion(Path dir, Network network, ProcessRegion nodes) {
    this.dir = dir;
    this.network = network;
    this.nodes = nodes;
  }

  /** Creates the network and starts {@code size} members in {@code dir}, one log file each. */
  public static ChaosRegion start(Path dir, int size) throws IOException {
    Network network = Network.create(size);
    try {
      List<NodeConfig> configs = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        configs.add(config(dir, network, size, i));
      }
      ProcessRegion nodes = new ProcessRegion(dir, configs, network::prefix);
      ChaosRegion region = new ChaosRegion(dir, network, nodes);
      nodes.startAll();
      return region;
    } catch (IOException | RuntimeException e) {
      network.close();
      throw e;
    }
  }

  /**
   * Starts a router in front of the members and waits until it serves. Call it once they have a
   * leader: a router started beside members still starting finds none healthy and backs off.
   */
  public ChaosRouter startRouter() throws IOException {
    if (router == null) {
      router =
          ChaosRouter.start(
              dir.resolve("router"),
              java.util.stream.IntStream.range(0, nodes.size()).mapToObj(nodes::url).toList());
    }
    router.awaitServing();
    return router;
  }

  private static NodeConfig config(Path dir, Network network, int size, int index) {
    StringBuilder members = new StringBuilder();
    for (int i = 0; i < size; i++) {
      members.append(
          String.format(
              "  - {id: n%d, peer: '%s:%d', client: 'http://%s:%d'}%n",
              i + 1, network.address(i), PEER_PORT, network.address(i), CLIENT_PORT));
    }
    String host = network.address(index);
    return NodeConfig.parse(
        String.join(
            "\n",
            "member: n" + (index + 1),
            "region: chaos",
            "data-dir: " + dir.resolve("n" + (index + 1)),
            "client: {host: " + host + ", port: " + CLIENT_PORT + "}",
            "peer: {host: " + host + ", port: " + PEER_PORT + "}",
            "raft: {election-timeout-min-ms: 300, election-timeout-max-ms: 600}",
            // Short registry windows and progress notifications, so that runs of a minute see them.
            "registry: {min-instances: 4, check-interval-ms: " + REGISTRY_WINDOW_MS + "}",
            "watch: {progress-interval-ms: 500}",
            "members:",
            members.toString(),
            "shards: [{id: 0, role: PRIMARY, epoch: 1}]"));
  }

  /** The members as processes: kill, pause, restart, and blocking stubs to each. */
  public ProcessRegion nodes() {
    return nodes;
  }

  /** The router in front of the members, or null when the region was started without one. */
  public ChaosRouter router() {
    return router;
  }

  /** Where the workloads' clients call: every member, then the router if there is one. */
  public Endpoints endpoints() {
    return new Endpoints(nodes, router);
  }

  /** The network between the members and between them and this process. */
  public Network network() {
    return network;
  }

  /** Where the members' data and logs are. */
  public Path dir() {
    return dir;
  }

  public int size() {
    return nodes.size();
  }

  @Override
  public void close() {
    try {
      if (router != null) {
        router.close();
      }
      nodes.close();
    } finally {
      network.close();
    }
  }
}
