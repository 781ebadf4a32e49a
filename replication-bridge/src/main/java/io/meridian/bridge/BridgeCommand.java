package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.serving.Shutdown;
import io.meridian.serving.config.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian bridge --config bridge.yaml}: runs one replication bridge until stopped. */
@Command(
    name = "bridge",
    description = "Run a replication bridge (primary change feed -> Kafka -> standbys).")
public final class BridgeCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "Path to bridge.yaml.")
  Path config;

  @Override
  public Integer call() throws Exception {
    Bridge bridge;
    try {
      bridge = Bridge.start(BridgeConfig.load(config));
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    } catch (MeridianException e) {
      System.err.println(config + ": " + e.getMessage());
      return 2;
    }
    System.out.println(
        "Meridian replication bridge; status at " + bridge.url() + "/v1/bridge/status");
    Shutdown.await(bridge);
    return 0;
  }
}
