package io.meridian.cluster;

import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.SkewedClock;
import io.meridian.serving.Shutdown;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meridian node}: a node process on its own (what {@code bin/meridian node} runs, so nodes
 * start before the rest of the build exists). Every other command is in the launcher module.
 */
@Command(
    name = "meridian",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Multi-region coordination service.",
    subcommands = {Main.Node.class})
public final class Main {
  public static void main(String[] args) {
    asyncCallbacksOnCommonPool();
    javaLoggingIntoOurLog();
    System.exit(new CommandLine(new Main()).execute(args));
  }

  /**
   * Ratis completes every unordered request with {@code whenCompleteAsync} on the default executor.
   * With fewer than 3 cores the JDK makes that executor start a new thread per task, so each read
   * forwarded to the leader created a thread; under load that alone starved the Raft heartbeats.
   * Giving the common pool 2 threads makes those callbacks reuse threads. This must run before
   * anything touches {@code CompletableFuture}; {@link MeridianNode#start} warns when it did not.
   */
  public static void asyncCallbacksOnCommonPool() {
    String key = "java.util.concurrent.ForkJoinPool.common.parallelism";
    if (System.getProperty(key) == null && Runtime.getRuntime().availableProcessors() < 3) {
      System.setProperty(key, "2");
    }
  }

  /**
   * Sends what libraries log through {@code java.util.logging} (Ratis's shaded gRPC) to the
   * process's log, where its levels apply, instead of unformatted lines on stderr.
   */
  public static void javaLoggingIntoOurLog() {
    org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
    org.slf4j.bridge.SLF4JBridgeHandler.install();
  }

  /** The version of this build. */
  public static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"meridian " + io.meridian.api.Version.current()};
    }
  }

  @Command(
      name = "node",
      mixinStandardHelpOptions = true,
      versionProvider = Main.Version.class,
      description = "Run one region-cluster node from a YAML config.")
  public static final class Node implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Path to node.yaml.")
    Path config;

    @Override
    public Integer call() throws Exception {
      return Shutdown.serve(
          config,
          NodeConfig::load,
          cfg -> MeridianNode.start(cfg, SkewedClock.fromSystemProperty(cfg.member())),
          node ->
              "Meridian node "
                  + node.config().member()
                  + " of region "
                  + node.config().region()
                  + " at "
                  + node.clientUrl());
    }
  }
}
