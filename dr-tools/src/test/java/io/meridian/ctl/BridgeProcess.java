package io.meridian.ctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.WebClient;
import io.meridian.bridge.BridgeConfig;
import io.meridian.serving.LoopbackPorts;
import io.meridian.testing.MeridianProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A dev federation's bridge as a process of its own ({@code bin/meridian bridge}), on its file with
 * a fixed port, so that a test can SIGKILL it mid-transaction and start it again where health
 * checks call.
 */
final class BridgeProcess implements AutoCloseable {
  private final MeridianProcess process;
  private final BridgeConfig config;
  private final WebClient web;

  private BridgeProcess(MeridianProcess process, BridgeConfig config, String url) {
    this.process = process;
    this.config = config;
    this.web = WebClient.builder(url).responseTimeout(Duration.ofSeconds(5)).build();
  }

  /** The bridge of the federation whose state is in {@code stateDir}, not started yet. */
  static BridgeProcess of(Path stateDir) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode yaml = (ObjectNode) json.readTree(stateDir.resolve("bridge.yaml").toFile());
    int port = LoopbackPorts.free();
    yaml.putObject("listen").put("host", "127.0.0.1").put("port", port);
    Path file = stateDir.resolve("bridge-process.yaml");
    // JSON is YAML: the same parser and checks as a bridge.yaml.
    Files.writeString(file, json.writeValueAsString(yaml));
    MeridianProcess process =
        new MeridianProcess(
            List.of(),
            List.of("bridge", "--config", file.toString()),
            stateDir.resolve("bridge-process.log"),
            Map.of("MERIDIAN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"));
    return new BridgeProcess(process, BridgeConfig.load(file), "http://127.0.0.1:" + port);
  }

  void start() throws IOException {
    process.start();
  }

  /** SIGKILL: whatever it was shipping or applying stops where it was. */
  void kill() {
    process.kill();
  }

  /** Whether it answers {@code /health} with 200: every source and sink running and caught up. */
  boolean healthy() {
    try {
      return web.get("/health").aggregate().join().status().code() == 200;
    } catch (RuntimeException e) {
      return false;
    }
  }

  BridgeConfig config() {
    return config;
  }

  @Override
  public void close() {
    process.kill();
  }
}
