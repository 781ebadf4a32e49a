package io.meridian.bench;

import io.meridian.serving.LoopbackPorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A 3-member etcd cluster on loopback, each member its own process with its own data directory and
 * etcd's defaults (fsync of the WAL on every commit), for a side-by-side comparison. {@code etcd}
 * comes from PATH: on Debian, {@code apt-get install etcd-server}.
 */
final class EtcdMembers implements AutoCloseable {
  private static final int SIZE = 3;
  private static final Pattern MEMBER_ID = Pattern.compile("\"member_id\":\"(\\d+)\"");
  private static final Pattern LEADER = Pattern.compile("\"leader\":\"(\\d+)\"");

  private final List<Process> processes = new ArrayList<>();
  private final List<String> clientUrls = new ArrayList<>();
  private final String version;

  private EtcdMembers(String version) {
    this.version = version;
  }

  /**
   * Starts the members under {@code dir}; fails with a message naming the package when {@code etcd}
   * is not on PATH.
   */
  static EtcdMembers start(Path dir) throws IOException, InterruptedException {
    return start(dir, List.of());
  }

  /** The same with {@code flags} added to every member's command line. */
  static EtcdMembers start(Path dir, List<String> flags) throws IOException, InterruptedException {
    String version = installedVersion();
    EtcdMembers members = new EtcdMembers(version);
    int[] clientPorts = new int[SIZE];
    int[] peerPorts = new int[SIZE];
    for (int i = 0; i < SIZE; i++) {
      clientPorts[i] = LoopbackPorts.free();
      peerPorts[i] = LoopbackPorts.free();
    }
    StringBuilder initial = new StringBuilder();
    for (int i = 0; i < SIZE; i++) {
      initial.append(i == 0 ? "" : ",").append("e").append(i);
      initial.append("=http://127.0.0.1:").append(peerPorts[i]);
    }
    try {
      for (int i = 0; i < SIZE; i++) {
        String client = "http://127.0.0.1:" + clientPorts[i];
        String peer = "http://127.0.0.1:" + peerPorts[i];
        Path data = dir.resolve("e" + i);
        Files.createDirectories(data);
        List<String> command =
            new ArrayList<>(
                List.of(
                    "etcd",
                    "--name=e" + i,
                    "--data-dir=" + data,
                    "--listen-client-urls=" + client,
                    "--advertise-client-urls=" + client,
                    "--listen-peer-urls=" + peer,
                    "--initial-advertise-peer-urls=" + peer,
                    "--initial-cluster=" + initial,
                    "--initial-cluster-state=new",
                    "--initial-cluster-token=meridian-bench"));
        command.addAll(flags);
        ProcessBuilder pb =
            new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(
                    ProcessBuilder.Redirect.appendTo(dir.resolve("e" + i + ".log").toFile()));
        members.processes.add(pb.start());
        members.clientUrls.add(client);
      }
      members.awaitLeader(Duration.ofSeconds(60));
      return members;
    } catch (IOException | InterruptedException | RuntimeException e) {
      members.close();
      throw e;
    }
  }

  private static String installedVersion() throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder("etcd", "--version").redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IllegalStateException(
          "etcd not found on PATH: the comparison needs etcd 3.4 or later (on Debian: apt-get"
              + " install etcd-server)",
          e);
    }
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor(10, TimeUnit.SECONDS);
    Matcher m = Pattern.compile("etcd Version: (\\S+)").matcher(out);
    return m.find() ? m.group(1) : out.trim();
  }

  String version() {
    return version;
  }

  List<String> clientUrls() {
    return clientUrls;
  }

  List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  /** The index of the member that leads now, asked through etcd's JSON status call. */
  int leader() throws IOException, InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    String[] ids = new String[SIZE];
    String leader = null;
    for (int i = 0; i < SIZE; i++) {
      String body =
          http.send(
                  HttpRequest.newBuilder(URI.create(clientUrls.get(i) + "/v3/maintenance/status"))
                      .timeout(Duration.ofSeconds(5))
                      .POST(HttpRequest.BodyPublishers.ofString("{}"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher id = MEMBER_ID.matcher(body);
      Matcher l = LEADER.matcher(body);
      ids[i] = id.find() ? id.group(1) : null;
      if (l.find() && !"0".equals(l.group(1))) {
        leader = l.group(1);
      }
    }
    for (int i = 0; i < SIZE; i++) {
      if (ids[i] != null && ids[i].equals(leader)) {
        return i;
      }
    }
    return -1;
  }

  private void awaitLeader(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < SIZE; i++) {
        if (!processes.get(i).isAlive()) {
          throw new IllegalStateException(
              "etcd member e" + i + " exited with " + processes.get(i).exitValue());
        }
      }
      try {
        if (leader() >= 0) {
          return;
        }
      } catch (IOException e) {
        last = e;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("etcd elected no leader within " + timeout, last);
  }

  @Override
  public void close() {
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
