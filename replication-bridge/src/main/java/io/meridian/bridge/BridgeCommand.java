package io.meridian.bridge;

import io.meridian.serving.Shutdown;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian bridge --config bridge.yaml}: runs one replication bridge until stopped. */
@Command(
    name = "bridge",
    mixinStandardHelpOptions = true,
    description = "Run a replication bridge (primary change feed -> Kafka -> standbys).")
public final class BridgeCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "Path to bridge.yaml.")
  Path config;

  @Override
  public Integer call() throws Exception {
    return Shutdown.serve(
        config,
        BridgeConfig::load,
        Bridge::start,
        bridge -> "Meridian replication bridge; status at " + bridge.url() + "/v1/bridge/status");
  }
}
