package io.meridian.cluster;

import io.meridian.cluster.config.ConfigException;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.node.DevCluster;
import io.meridian.cluster.node.MeridianNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian <command>}: the one entry point behind {@code bin/meridian}. */
@Command(
    name = "meridian",
    mixinStandardHelpOptions = true,
    description = "Multi-region coordination service.",
    subcommands = {Main.Node.class, Main.Dev.class})
public final class Main {
  public static void main(String[] args) {
    asyncCallbacksOnCommonPool();
    System.exit(new CommandLine(new Main()).execute(args));
  }

  /**
   * Ratis completes every unordered request with {@code whenCompleteAsync} on the default executor.
   * With fewer than 3 cores the JDK makes that executor start a new thread per task, so each read
   * forwarded to the leader created a thread; under load that alone starved the Raft heartbeats.
   * Giving the common pool 2 threads makes those callbacks reuse threads. This must run before
   * anything touches {@code CompletableFuture}; {@link MeridianNode#start} warns when it did not.
   */
  private static void asyncCallbacksOnCommonPool() {
    String key = "java.util.concurrent.ForkJoinPool.common.parallelism";
    if (System.getProperty(key) == null && Runtime.getRuntime().availableProcessors() < 3) {
      System.setProperty(key, "2");
    }
  }

  @Command(name = "node", description = "Run one region-cluster node from a YAML config.")
  static final class Node implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Path to node.yaml.")
    Path config;

    @Override
    public Integer call() throws Exception {
      NodeConfig cfg;
      try {
        cfg = NodeConfig.load(config);
      } catch (ConfigException e) {
        System.err.println(config + ": " + e.getMessage());
        return 2;
      }
      MeridianNode node = MeridianNode.start(cfg, WallClock.system());
      awaitShutdown(node);
      return 0;
    }
  }

  @Command(name = "dev", description = "Run a local 3-node region cluster on loopback.")
  static final class Dev implements Callable<Integer> {
    @Option(
        names = "--state-dir",
        description = "Where the nodes keep their data (default: a new temporary directory).")
    Path stateDir;

    @Option(names = "--nodes", defaultValue = "3", description = "Members (default: 3).")
    int size;

    @Option(names = "--region", defaultValue = "dev", description = "Region name (default: dev).")
    String region;

    @Override
    public Integer call() throws Exception {
      Path dir = stateDir != null ? stateDir : Files.createTempDirectory("meridian-dev-");
      DevCluster cluster = DevCluster.plan(dir, size, region).start();
      String url = cluster.node(0).clientUrl();
      System.out.println("Meridian dev region cluster '" + region + "' is up; data in " + dir);
      for (MeridianNode n : cluster.nodes()) {
        System.out.println(
            "  "
                + n.config().member()
                + "  "
                + n.clientUrl()
                + "  (peer "
                + n.config().self().peer()
                + ")");
      }
      System.out.println("Topology: " + dir.resolve("topology.json"));
      System.out.println("Try:");
      System.out.println(
          "  curl -s " + url + "/v1/kv/put -d '{\"key\":\"/demo/hello\",\"value\":\"d29ybGQ=\"}'");
      System.out.println("  curl -s " + url + "/v1/kv/range -d '{\"key\":\"/demo/hello\"}'");
      System.out.println(
          "  curl -s "
              + url
              + "/v1/registry/register -d '{\"namespace\":\"demo\",\"service\":\"payments\","
              + "\"instanceId\":\"p1\",\"address\":\"10.0.0.1\",\"port\":8080,\"ttl\":10}'");
      System.out.println(
          "  curl -s "
              + url
              + "/v1/registry/discover -d '{\"namespace\":\"demo\",\"service\":\"payments\"}'");
      System.out.println(
          "  curl -sN "
              + url
              + "/v1/watch -d '{\"key\":\"/demo/\",\"prefix\":true}'   # JSON lines; Ctrl-C ends"
              + " it");
      System.out.println("More in the README's walk-through. Press Ctrl-C to stop.");
      awaitShutdown(cluster);
      return 0;
    }
  }

  private static void awaitShutdown(AutoCloseable running) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    running.close();
                  } catch (Exception e) {
                    System.err.println("shutdown: " + e);
                  }
                  stopped.countDown();
                },
                "meridian-shutdown"));
    stopped.await();
  }
}
