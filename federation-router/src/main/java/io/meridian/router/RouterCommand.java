package io.meridian.router;

import io.meridian.serving.Shutdown;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian router --config router.yaml}: runs one router until the process is stopped. */
@Command(
    name = "router",
    mixinStandardHelpOptions = true,
    description = "Run a federation router from a YAML config.")
public final class RouterCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "Path to router.yaml.")
  Path config;

  @Override
  public Integer call() throws Exception {
    return Shutdown.serve(
        config,
        RouterConfig::load,
        RouterServer::start,
        router ->
            "Meridian router for region "
                + router.config().region()
                + " at "
                + router.url()
                + " (routing table version "
                + router.table().version()
                + ")");
  }
}
