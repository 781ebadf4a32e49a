package io.meridian.cluster.node;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.cluster.config.NodeConfig;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The members of a planned cluster as separate processes, each started with {@code bin/meridian
 * node}: they can be killed (SIGKILL) and paused (SIGSTOP/SIGCONT), which an in-process node
 * cannot. Logs go to {@code <dir>/<member>.log}.
 */
final class NodeProcesses implements AutoCloseable {
  private final Path dir;
  private final List<NodeConfig> configs;
  private final List<String> prefix;
  private final Map<Integer, Process> processes = new HashMap<>();
  private final List<Clients> clients = new ArrayList<>();

  NodeProcesses(Path dir, List<NodeConfig> configs) {
    this(dir, configs, List.of());
  }

  /** Members started with {@code prefix} before the launcher (e.g. {@code ip netns exec NS}). */
  NodeProcesses(Path dir, List<NodeConfig> configs, List<String> prefix) {
    this.dir = dir;
    this.configs = configs;
    this.prefix = List.copyOf(prefix);
    for (NodeConfig c : configs) {
      clients.add(Clients.of(c.self().client()));
    }
  }

  /** Starts every member. */
  NodeProcesses startAll() throws IOException {
    for (int i = 0; i < configs.size(); i++) {
      start(i);
    }
    return this;
  }

  Clients client(int index) {
    return clients.get(index);
  }

  int size() {
    return configs.size();
  }

  void start(int index) throws IOException {
    NodeConfig config = configs.get(index);
    File yaml = dir.resolve(config.member() + ".yaml").toFile();
    new ObjectMapper(new YAMLFactory())
        .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
        .writeValue(yaml, config);
    File launcher = Path.of("..", "bin", "meridian").toAbsolutePath().normalize().toFile();
    List<String> command = new ArrayList<>(prefix);
    command.addAll(List.of(launcher.getPath(), "node", "--config", yaml.getPath()));
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(dir.resolve(config.member() + ".log").toFile()));
    pb.environment().put("MERIDIAN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC");
    processes.put(index, pb.start());
  }

  /** The log file of member {@code index}. */
  Path log(int index) {
    return dir.resolve(configs.get(index).member() + ".log");
  }

  /** SIGKILL, and waits for the process to end. */
  void kill(int index) throws InterruptedException {
    kill(processes.get(index));
  }

  /**
   * Kills {@code p} and what it started: behind a prefix such as strace the node is a child, which
   * would outlive its parent.
   */
  private static void kill(Process p) throws InterruptedException {
    List<ProcessHandle> children = p.descendants().toList();
    p.destroyForcibly().waitFor();
    for (ProcessHandle child : children) {
      child.destroyForcibly();
      child.onExit().join();
    }
  }

  /** SIGSTOP: the member freezes, threads, timers and sockets alike. */
  void pause(int index) throws IOException, InterruptedException {
    signal(index, "STOP");
  }

  /** SIGCONT. */
  void resume(int index) throws IOException, InterruptedException {
    signal(index, "CONT");
  }

  private void signal(int index, String signal) throws IOException, InterruptedException {
    // bin/meridian execs java, so the process is the JVM.
    long pid = processes.get(index).pid();
    int exit = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start().waitFor();
    if (exit != 0) {
      throw new IOException("kill -" + signal + " " + pid + " exited " + exit);
    }
  }

  /** The index of the member some running member names leader, skipping {@code except}. */
  int awaitLeader(int... except) {
    return await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () -> {
              for (int i = 0; i < clients.size(); i++) {
                if (contains(except, i)) {
                  continue;
                }
                try {
                  Optional<Member> leader =
                      clients
                          .get(i)
                          .cluster()
                          .memberList(MemberListRequest.getDefaultInstance())
                          .getMembersList()
                          .stream()
                          .filter(Member::getLeader)
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
  public void close() throws InterruptedException {
    for (Process p : processes.values()) {
      // A paused process ignores SIGTERM until continued; SIGKILL ends it either way.
      kill(p);
    }
  }
}
