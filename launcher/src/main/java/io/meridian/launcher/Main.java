package io.meridian.launcher;

import io.meridian.api.DevPointer;
import io.meridian.bridge.BridgeCommand;
import io.meridian.cluster.MeridianNode;
import io.meridian.router.RouterCommand;
import io.meridian.router.RouterServer;
import io.meridian.serving.Shutdown;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian <command>}: the entry point behind {@code bin/meridian}. */
@Command(
    name = "meridian",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Multi-region coordination service.",
    subcommands = {
      io.meridian.cluster.Main.Node.class,
      RouterCommand.class,
      BridgeCommand.class,
      Main.Dev.class
    })
public final class Main {
  public static void main(String[] args) {
    io.meridian.cluster.Main.asyncCallbacksOnCommonPool();
    io.meridian.cluster.Main.javaLoggingIntoOurLog();
    System.exit(commandLine().execute(args));
  }

  /** The command line of {@code bin/meridian}: every command answers --help and --version. */
  static CommandLine commandLine() {
    CommandLine line = new CommandLine(new Main());
    line.getSubcommands().values().forEach(c -> c.getCommandSpec().versionProvider(new Version()));
    return line;
  }

  /** The version of this build. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"meridian " + io.meridian.api.Version.current()};
    }
  }

  @Command(
      name = "dev",
      mixinStandardHelpOptions = true,
      description =
          "Run a local federation on loopback: regions us-east (primary) and us-west (standby),"
              + " 2 shards, a 3-node cluster per region, a router per region, and a Kafka broker"
              + " with a replication bridge from us-east to us-west.")
  static final class Dev implements Callable<Integer> {
    @Option(
        names = "--state-dir",
        description = "Where the nodes keep their data (default: a new temporary directory).")
    Path stateDir;

    @Option(
        names = "--nodes",
        defaultValue = "3",
        description = "Members of each region cluster (default: 3).")
    int size;

    @Option(names = "--shards", defaultValue = "2", description = "Shards (default: 2).")
    int shards;

    @Override
    public Integer call() throws Exception {
      Path dir = stateDir != null ? stateDir : Files.createTempDirectory("meridian-dev-");
      DevFederation.Shape shape =
          new DevFederation.Shape(List.of("us-east", "us-west"), shards, size, true);
      DevFederation f = DevFederation.start(dir, shape);
      System.out.println("Meridian dev federation is up; data in " + dir);
      for (String region : shape.regions()) {
        RouterServer r = f.router(region);
        System.out.println(
            "  region "
                + region
                + (region.equals(shape.regions().get(0))
                    ? " (PRIMARY for every shard)"
                    : " (STANDBY)")
                + ": router "
                + r.url());
        for (MeridianNode n : f.cluster(region).nodes()) {
          System.out.println("    node " + n.config().member() + "  " + n.clientUrl());
        }
      }
      System.out.println("Topology: " + dir.resolve("topology.json"));
      System.out.println("Routing table: " + dir.resolve("routing-table.yaml"));
      System.out.println("Try (meridianctl finds this federation by itself):");
      System.out.println("  bin/meridianctl kv put /demo/hello world");
      System.out.println("  bin/meridianctl kv get /demo/hello");
      System.out.println("  bin/meridianctl status      # every shard in every region");
      System.out.println(
          "  curl -s "
              + f.router(shape.regions().get(0)).url()
              + "/v1/kv/range -d"
              + " '{\"key\":\"/demo/hello\"}'   # the same over HTTP/JSON");
      System.out.println("More in the README's walkthrough. Press Ctrl-C to stop.");
      // meridianctl finds this federation through the pointer when no endpoints are given.
      Path topology = dir.resolve("topology.json");
      Path pointer = DevPointer.file(System.getenv());
      DevPointer.write(pointer, topology);
      Shutdown.await(
          () -> {
            DevPointer.clear(pointer, topology);
            f.close();
          });
      return 0;
    }
  }
}
