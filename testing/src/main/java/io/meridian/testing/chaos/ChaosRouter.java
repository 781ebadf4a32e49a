package io.meridian.testing.chaos;

import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.grpc.GrpcClientBuilder;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.Slot;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.RangeRequest;
import io.meridian.serving.LoopbackPorts;
import io.meridian.testing.MeridianProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A federation router in front of a {@link ChaosRegion}, as its own process ({@code bin/meridian
 * router}) on a fixed loopback port, so that the nemesis can kill and pause it and a restart serves
 * where clients already call. Its routing table puts every slot on shard 0, the region's one shard,
 * with the members' client URLs as endpoints.
 */
public final class ChaosRouter implements AutoCloseable {
  private final MeridianProcess process;
  private final String url;
  private final KVGrpc.KVBlockingStub kv;
  private final LeaseGrpc.LeaseBlockingStub lease;
  private final LockGrpc.LockBlockingStub lock;

  private ChaosRouter(MeridianProcess process, String url) {
    this.process = process;
    this.url = url;
    GrpcClientBuilder b = GrpcClients.builder(url).responseTimeout(Duration.ofSeconds(30));
    this.kv = b.build(KVGrpc.KVBlockingStub.class);
    this.lease = b.build(LeaseGrpc.LeaseBlockingStub.class);
    this.lock = b.build(LockGrpc.LockBlockingStub.class);
  }

  /** Writes the router's configuration and table into {@code dir} and starts it. */
  static ChaosRouter start(Path dir, List<String> members) throws IOException {
    Files.createDirectories(dir);
    int port = LoopbackPorts.free();
    Path table = dir.resolve("routing-table.yaml");
    Files.writeString(
        table,
        String.join(
            "\n",
            "version: 1",
            "slots: [{range: 0-" + (Slot.COUNT - 1) + ", shard: 0}]",
            "shards:",
            "  - id: 0",
            "    regions:",
            "      - {region: chaos, role: PRIMARY, epoch: 1, endpoints: "
                + members.stream()
                    .map(m -> "'" + m + "'")
                    .collect(Collectors.joining(", ", "[", "]"))
                + "}",
            ""));
    Path yaml = dir.resolve("router.yaml");
    Files.writeString(
        yaml,
        String.join(
            "\n",
            "region: chaos",
            "listen: {host: 127.0.0.1, port: " + port + "}",
            "table: " + table,
            // Members come back from kills and pauses within seconds: notice it as soon.
            "upstream: {health-check-interval-ms: 500}",
            ""));
    MeridianProcess process =
        new MeridianProcess(
            List.of(),
            List.of("router", "--config", yaml.toString()),
            dir.resolve("router.log"),
            Map.of("MERIDIAN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"));
    ChaosRouter router = new ChaosRouter(process, "http://127.0.0.1:" + port);
    process.start();
    return router;
  }

  /** Waits until it answers a read of the region through it. */
  void awaitServing() {
    await("the router at " + url + " serves")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () -> {
              kv.withDeadlineAfter(5, TimeUnit.SECONDS)
                  .range(
                      RangeRequest.newBuilder()
                          .setKey("/chaos/")
                          .setCountOnly(true)
                          .setConsistency(Consistency.SERIALIZABLE)
                          .build());
              return true;
            });
  }

  /** The router as a process: kill, pause, resume, start again. */
  public MeridianProcess process() {
    return process;
  }

  public String url() {
    return url;
  }

  public KVGrpc.KVBlockingStub kv() {
    return kv;
  }

  public LeaseGrpc.LeaseBlockingStub lease() {
    return lease;
  }

  public LockGrpc.LockBlockingStub lock() {
    return lock;
  }

  @Override
  public void close() {
    // A paused process ignores SIGTERM until continued; SIGKILL ends it either way.
    process.kill();
  }
}
