package io.meridian.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.Role;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A 3-node region cluster (shard 0, PRIMARY) as three separate JVMs, each started with {@code
 * bin/meridian node --config <member>.yaml} and the JVM flags given as {@code MERIDIAN_JAVA_OPTS}.
 * Each node's output goes to {@code <dir>/<member>.log}, its Raft log and snapshots to {@code
 * <dir>/<member>/}. Raft settings are the defaults of a real deployment, log flushed synchronously
 * (Ratis's default). {@link #close()} stops every node; it is safe to call more than once and from
 * a shutdown hook.
 */
final class NodeProcesses implements AutoCloseable {
  private static final int SIZE = 3;

  private final Path dir;
  private final List<NodeConfig> configs;
  private final String jvmOptions;
  // Guarded by this.
  private final List<Process> processes = new ArrayList<>();
  private boolean closed;

  private NodeProcesses(Path dir, List<NodeConfig> configs, String jvmOptions) {
    this.dir = dir;
    this.configs = configs;
    this.jvmOptions = jvmOptions;
  }

  /** Plans the cluster on free loopback ports under {@code dir} and starts its three JVMs. */
  static NodeProcesses start(Path launcher, Path dir, String jvmOptions) throws IOException {
    return start(launcher, dir, jvmOptions, Map.of());
  }

  /**
   * The same with node configuration {@code overrides} (section, then key, as in a node's YAML:
   * {@code raft} → {@code snapshot-threshold}).
   */
  static NodeProcesses start(
      Path launcher, Path dir, String jvmOptions, Map<String, Map<String, Object>> overrides)
      throws IOException {
    return start(launcher, dir, jvmOptions, "bench", Role.PRIMARY, overrides);
  }

  /** The same for a cluster of {@code region} whose shard 0 has {@code role}. */
  static NodeProcesses start(Path launcher, Path dir, String jvmOptions, String region, Role role)
      throws IOException {
    return start(launcher, dir, jvmOptions, region, role, Map.of());
  }

  private static NodeProcesses start(
      Path launcher,
      Path dir,
      String jvmOptions,
      String region,
      Role role,
      Map<String, Map<String, Object>> overrides)
      throws IOException {
    List<NodeConfig> configs =
        DevCluster.plan(dir, SIZE, region, overrides, Map.of(0, role)).configs();
    return start(launcher, dir, jvmOptions, configs);
  }

  /**
   * Starts a JVM for each of {@code configs} (a planned cluster, e.g. one region of a {@code
   * DevFederation}) in {@code dir}.
   */
  static NodeProcesses start(Path launcher, Path dir, String jvmOptions, List<NodeConfig> configs)
      throws IOException {
    java.nio.file.Files.createDirectories(dir);
    NodeProcesses nodes = new NodeProcesses(dir, List.copyOf(configs), jvmOptions);
    try {
      for (NodeConfig config : configs) {
        nodes.start(launcher, config);
      }
    } catch (IOException | RuntimeException e) {
      nodes.close();
      throw e;
    }
    return nodes;
  }

  /** SIGKILLs every node at once (a region lost in an instant) and waits for them to end. */
  synchronized void killAll() throws InterruptedException {
    processes.forEach(Process::destroyForcibly);
    for (Process p : processes) {
      p.waitFor();
    }
  }

  private synchronized void start(Path launcher, NodeConfig config) throws IOException {
    if (closed) {
      throw new IllegalStateException("stopped");
    }
    Path yaml = dir.resolve(config.member() + ".yaml");
    new ObjectMapper(new YAMLFactory())
        .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
        .writeValue(yaml.toFile(), config);
    ProcessBuilder pb =
        new ProcessBuilder(launcher.toString(), "node", "--config", yaml.toString())
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(dir.resolve(config.member() + ".log").toFile()));
    pb.environment().put("MERIDIAN_JAVA_OPTS", jvmOptions);
    processes.add(pb.start());
  }

  List<NodeConfig> configs() {
    return configs;
  }

  List<String> clientUrls() {
    return configs.stream().map(c -> c.self().client()).toList();
  }

  synchronized List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  Path dir() {
    return dir;
  }

  /**
   * Waits until a node reports a leader and a put through each node succeeds (the new leader has
   * committed the shard's initial role); returns the leader's member id.
   */
  String awaitReady(Duration timeout) throws InterruptedException {
    return awaitReady(timeout, true);
  }

  /**
   * Waits for a leader; with {@code write}, also for a put through each node (a STANDBY takes none:
   * it is ready once its leader is known).
   */
  String awaitReady(Duration timeout, boolean write) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String lastError = "no answer yet";
    List<String> urls = clientUrls();
    while (System.nanoTime() < deadline) {
      checkAlive();
      try {
        Optional<String> leader = leader(urls.get(0));
        if (leader.isPresent() && !write) {
          return leader.get();
        }
        if (leader.isPresent()) {
          for (String url : urls) {
            GrpcClients.builder(url)
                .responseTimeout(Duration.ofSeconds(5))
                .build(KVGrpc.KVBlockingStub.class)
                .put(
                    PutRequest.newBuilder()
                        .setKey("/bench/ready")
                        .setValue(ByteString.copyFromUtf8(url))
                        .build());
          }
          return leader.get();
        }
        lastError = "no leader yet";
      } catch (StatusRuntimeException e) {
        lastError = Endpoints.describe(e);
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException(
        "cluster not ready after " + timeout.toSeconds() + " s: " + lastError + "; logs in " + dir);
  }

  /** The leader's member id as {@code url}'s node sees it. */
  static Optional<String> leader(String url) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ofSeconds(5))
        .build(ClusterGrpc.ClusterBlockingStub.class)
        .memberList(MemberListRequest.getDefaultInstance())
        .getMembersList()
        .stream()
        .filter(NodeProcesses::leadsShardZero)
        .map(Member::getId)
        .findFirst();
  }

  /** Fails if a node has exited (a bad flag, a port taken): its log says why. */
  synchronized void checkAlive() {
    for (int i = 0; i < processes.size(); i++) {
      Process p = processes.get(i);
      if (!p.isAlive()) {
        String member = configs.get(i).member();
        throw new IllegalStateException(
            "node "
                + member
                + " exited with status "
                + p.exitValue()
                + "; see "
                + dir.resolve(member + ".log"));
      }
    }
  }

  /** Stops every node: SIGTERM, then SIGKILL after 10 s. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Whether {@code member} leads shard 0, the only shard of these clusters. */
  private static boolean leadsShardZero(Member member) {
    return member.getShardsList().stream()
        .anyMatch(s -> s.getShard() == 0 && s.getRole().equals("LEADER"));
  }
}
