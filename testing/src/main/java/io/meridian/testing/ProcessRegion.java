package io.meridian.testing;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.linecorp.armeria.client.grpc.GrpcClientBuilder;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.SkewedClock;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * The members of a planned cluster as separate processes, each started with {@code bin/meridian
 * node}: they can be killed (SIGKILL) and paused (SIGSTOP/SIGCONT), which an in-process node
 * ({@link LocalRegion}) cannot. Logs go to {@code <dir>/<member>.log}. Runs from a module directory
 * of this repository (it starts {@code ../bin/meridian}).
 *
 * <pre>{@code
 * List<NodeConfig> configs = DevCluster.plan(dir, 3, "east", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
 * try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll()) {
 *   int leader = nodes.awaitLeader();
 *   nodes.pause(leader);   // longer than an election timeout: the others elect a new leader
 *   nodes.resume(leader);
 * }
 * }</pre>
 */
public final class ProcessRegion implements AutoCloseable {
  private final Path dir;
  private final List<NodeConfig> configs;
  private final IntFunction<List<String>> prefix;
  private final Map<Integer, MeridianProcess> processes = new HashMap<>();
  private final List<KVGrpc.KVBlockingStub> kv = new ArrayList<>();
  private final List<LeaseGrpc.LeaseBlockingStub> lease = new ArrayList<>();
  private final List<LockGrpc.LockBlockingStub> lock = new ArrayList<>();
  private final List<ClusterGrpc.ClusterBlockingStub> cluster = new ArrayList<>();
  private final List<RegistryGrpc.RegistryBlockingStub> registry = new ArrayList<>();
  private final List<WatchGrpc.WatchStub> watch = new ArrayList<>();

  /** The members of {@code configs}, none started yet. */
  public ProcessRegion(Path dir, List<NodeConfig> configs) {
    this(dir, configs, List.of());
  }

  /** Members started with {@code prefix} before the launcher (e.g. {@code ip netns exec NS}). */
  public ProcessRegion(Path dir, List<NodeConfig> configs, List<String> prefix) {
    this(dir, configs, index -> List.copyOf(prefix));
  }

  /**
   * Members each started with its own prefix before the launcher (e.g. its own network namespace).
   */
  public ProcessRegion(Path dir, List<NodeConfig> configs, IntFunction<List<String>> prefix) {
    this.dir = dir;
    this.configs = configs;
    this.prefix = prefix;
    for (NodeConfig c : configs) {
      GrpcClientBuilder b =
          GrpcClients.builder(c.self().client()).responseTimeout(Duration.ofSeconds(30));
      kv.add(b.build(KVGrpc.KVBlockingStub.class));
      lease.add(b.build(LeaseGrpc.LeaseBlockingStub.class));
      lock.add(b.build(LockGrpc.LockBlockingStub.class));
      cluster.add(b.build(ClusterGrpc.ClusterBlockingStub.class));
      registry.add(b.build(RegistryGrpc.RegistryBlockingStub.class));
      // A watch stream lasts as long as its caller keeps it: no response timeout.
      watch.add(
          GrpcClients.builder(c.self().client())
              .responseTimeout(Duration.ZERO)
              .build(WatchGrpc.WatchStub.class));
    }
  }

  /** Starts every member. */
  public ProcessRegion startAll() throws IOException {
    for (int i = 0; i < configs.size(); i++) {
      start(i);
    }
    return this;
  }

  /** Blocking key-value calls to member {@code index}. */
  public KVGrpc.KVBlockingStub kv(int index) {
    return kv.get(index);
  }

  /** Blocking lease calls to member {@code index}. */
  public LeaseGrpc.LeaseBlockingStub lease(int index) {
    return lease.get(index);
  }

  /** Blocking lock calls to member {@code index}. */
  public LockGrpc.LockBlockingStub lock(int index) {
    return lock.get(index);
  }

  /** Blocking cluster calls (members, status, snapshots) to member {@code index}. */
  public ClusterGrpc.ClusterBlockingStub cluster(int index) {
    return cluster.get(index);
  }

  /** Blocking registry calls to member {@code index}. */
  public RegistryGrpc.RegistryBlockingStub registry(int index) {
    return registry.get(index);
  }

  /** Watch streams to member {@code index}. */
  public WatchGrpc.WatchStub watch(int index) {
    return watch.get(index);
  }

  /** Member {@code index}'s client URL. */
  public String url(int index) {
    return configs.get(index).self().client();
  }

  public int size() {
    return configs.size();
  }

  /** Starts member {@code index} (again, after a kill), writing its configuration first. */
  public void start(int index) throws IOException {
    NodeConfig config = configs.get(index);
    Files.createDirectories(dir);
    File yaml = dir.resolve(config.member() + ".yaml").toFile();
    new ObjectMapper(new YAMLFactory())
        .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
        .writeValue(yaml, config);
    // Test members live for a minute or two: the C1 compiler alone starts three of them on two
    // cores markedly sooner, and the optimizing compiler's work would never pay back.
    Map<String, String> environment =
        Map.of(
            "MERIDIAN_JAVA_OPTS",
            "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -D"
                + SkewedClock.PROPERTY
                + "="
                + clockFile(index));
    MeridianProcess member =
        processes.computeIfAbsent(
            index,
            i ->
                new MeridianProcess(
                    prefix.apply(i),
                    List.of("node", "--config", yaml.getPath()),
                    log(i),
                    environment));
    member.start();
  }

  /**
   * Steps member {@code index}'s wall clock to {@code offsetMs} from the system clock (0: back to
   * it); the member follows within a few tens of ms. Its monotonic clock does not move.
   */
  public void stepClock(int index, long offsetMs) throws IOException {
    Path file = clockFile(index);
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.writeString(next, Long.toString(offsetMs));
    Files.move(next, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private Path clockFile(int index) {
    return dir.resolve(configs.get(index).member() + ".clock").toAbsolutePath();
  }

  /** The process id of member {@code index} (the JVM: bin/meridian execs java). */
  public long pid(int index) {
    return processes.get(index).pid();
  }

  /** Member {@code index} as a process, once started. */
  public MeridianProcess process(int index) {
    return processes.get(index);
  }

  /**
   * Writes every thread's stack of member {@code index} to {@code file}, if it runs ({@link
   * MeridianProcess#threadDump}).
   */
  public void threadDump(int index, Path file) throws IOException, InterruptedException {
    MeridianProcess p = processes.get(index);
    if (p != null) {
      p.threadDump(file);
    }
  }

  /** The log file of member {@code index}. */
  public Path log(int index) {
    return dir.resolve(configs.get(index).member() + ".log");
  }

  /** SIGKILL, and waits for the process to end. */
  public void kill(int index) {
    processes.get(index).kill();
  }

  /**
   * SIGKILLs every running member at once (a whole region lost in one instant), then waits for them
   * all to end.
   */
  public void killAll() {
    List<ProcessHandle> all = new ArrayList<>();
    processes.values().forEach(p -> all.addAll(p.handles()));
    all.forEach(ProcessHandle::destroyForcibly);
    all.forEach(h -> h.onExit().join());
  }

  /** SIGSTOP: the member freezes, threads, timers and sockets alike. */
  public void pause(int index) throws IOException, InterruptedException {
    processes.get(index).pause();
  }

  /** SIGCONT. */
  public void resume(int index) throws IOException, InterruptedException {
    processes.get(index).resume();
  }

  /** The index of the member some running member names leader, skipping {@code except}. */
  public int awaitLeader(int... except) {
    // Three JVMs starting at once on a busy 2-core machine took over a minute to elect (CI).
    return await()
        .atMost(Duration.ofSeconds(120))
        .ignoreExceptions()
        .until(
            () -> {
              for (int i = 0; i < cluster.size(); i++) {
                if (contains(except, i)) {
                  continue;
                }
                try {
                  Optional<Member> leader =
                      cluster(i)
                          .withDeadlineAfter(5, TimeUnit.SECONDS)
                          .memberList(MemberListRequest.getDefaultInstance())
                          .getMembersList()
                          .stream()
                          .filter(ProcessRegion::leadsShardZero)
                          .findFirst();
                  if (leader.isPresent()) {
                    int index = Integer.parseInt(leader.get().getId().substring(1)) - 1;
                    if (!contains(except, index)) {
                      return index;
                    }
                  }
                } catch (StatusRuntimeException e) {
                  // This member is down or paused; ask the next.
                }
              }
              return -1;
            },
            i -> i >= 0);
  }

  private static boolean contains(int[] values, int value) {
    for (int v : values) {
      if (v == value) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    // A paused process ignores SIGTERM until continued; SIGKILL ends it either way.
    killAll();
  }

  /** Whether {@code member} leads shard 0, the only shard of these clusters. */
  private static boolean leadsShardZero(Member member) {
    return member.getShardsList().stream()
        .anyMatch(s -> s.getShard() == 0 && s.getRole().equals("LEADER"));
  }
}
