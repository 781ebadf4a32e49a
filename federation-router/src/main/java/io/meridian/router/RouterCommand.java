package io.meridian.router;

import io.meridian.api.MeridianException;
import io.meridian.serving.Shutdown;
import io.meridian.serving.config.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meridian router --config router.yaml}: runs one router until the process is stopped. */
@Command(name = "router", description = "Run a federation router from a YAML config.")
public final class RouterCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "Path to router.yaml.")
  Path config;

  @Override
  public Integer call() throws Exception {
    RouterServer router;
    try {
      router = RouterServer.start(RouterConfig.load(config));
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    } catch (MeridianException e) {
      System.err.println(config + ": " + e.getMessage());
      return 2;
    }
    System.out.println(
        "Meridian router for region "
            + router.config().region()
            + " at "
            + router.url()
            + " (routing table version "
            + router.table().version()
            + ")");
    Shutdown.await(router);
    return 0;
  }
}
