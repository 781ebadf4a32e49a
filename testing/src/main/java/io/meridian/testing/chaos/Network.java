package io.meridian.testing.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A private network for chaos tests: every member in its own network namespace, joined to a bridge
 * in this process's namespace, so that the test (and its clients) reach each member at its own
 * address and the nemesis can cut, per direction, what one member sends to another. A cut is a
 * blackhole route in the sender's namespace: packets vanish, nothing is reset, as in a real
 * partition. A congested link is a token bucket filter on the member's interface.
 *
 * <p>Needs root and iproute2 ({@code ip netns}, {@code tc}); {@link #available()} says whether this
 * machine has them. Addresses are in 10.214.0.0/16, one /24 per network.
 */
public final class Network implements AutoCloseable {
  private final String tag;
  private final int subnet;
  private final int size;
  private final Set<String> cuts = new LinkedHashSet<>();
  private final Set<Integer> throttled = new LinkedHashSet<>();
  private boolean closed;

  private Network(String tag, int subnet, int size) {
    this.tag = tag;
    this.subnet = subnet;
    this.size = size;
  }

  /** Whether this process may create network namespaces (root and iproute2). */
  public static boolean available() {
    String probe = "mrd-probe-" + ProcessHandle.current().pid();
    try {
      if (run("ip", "netns", "add", probe) != 0) {
        return false;
      }
      run("ip", "netns", "del", probe);
      return run("tc", "-V") == 0;
    } catch (IOException e) {
      return false;
    }
  }

  /** Creates a network of {@code size} members, each in its own namespace, all on one bridge. */
  public static Network create(int size) throws IOException {
    Random random = new Random();
    String tag = Integer.toString(random.nextInt(1 << 20), 36);
    Network network = new Network(tag, random.nextInt(250) + 1, size);
    try {
      network.build();
    } catch (IOException | RuntimeException e) {
      network.close();
      throw e;
    }
    return network;
  }

  private void build() throws IOException {
    must("ip", "link", "add", bridge(), "type", "bridge");
    must("ip", "addr", "add", hostAddress() + "/24", "dev", bridge());
    must("ip", "link", "set", bridge(), "up");
    for (int i = 0; i < size; i++) {
      String ns = namespace(i);
      must("ip", "netns", "add", ns);
      must("ip", "link", "add", hostEnd(i), "type", "veth", "peer", "name", "m0", "netns", ns);
      must("ip", "link", "set", hostEnd(i), "master", bridge());
      must("ip", "link", "set", hostEnd(i), "up");
      in(i, "ip", "link", "set", "lo", "up");
      in(i, "ip", "addr", "add", address(i) + "/24", "dev", "m0");
      in(i, "ip", "link", "set", "m0", "up");
    }
  }

  /** The number of members. */
  public int size() {
    return size;
  }

  /** Member {@code index}'s address (IPv4, dotted). */
  public String address(int index) {
    return "10.214." + subnet + "." + (index + 1);
  }

  /** The address of this process on the network (the bridge), where clients come from. */
  public String hostAddress() {
    return "10.214." + subnet + ".254";
  }

  /** The command prefix that runs a program inside member {@code index}'s namespace. */
  public List<String> prefix(int index) {
    return List.of("ip", "netns", "exec", namespace(index));
  }

  /** Packets from {@code from} to {@code to} vanish until {@link #heal()}. Idempotent. */
  public synchronized void cut(int from, int to) throws IOException {
    if (cuts.add(from + ">" + to)) {
      in(from, "ip", "route", "add", "blackhole", address(to) + "/32");
    }
  }

  /**
   * Member {@code index} and every other member stop hearing each other; clients still reach it.
   */
  public synchronized void isolate(int index) throws IOException {
    for (int other = 0; other < size; other++) {
      if (other != index) {
        cut(index, other);
        cut(other, index);
      }
    }
  }

  /** Clients (this process) and member {@code index} stop hearing each other; peers still do. */
  public synchronized void cutClients(int index) throws IOException {
    if (cuts.add(index + ">host")) {
      in(index, "ip", "route", "add", "blackhole", hostAddress() + "/32");
    }
  }

  /**
   * What member {@code index} sends goes out at {@code kbit} kilobits per second, queued up to two
   * seconds: a congested link, where every message waits behind the ones before it. (A fixed delay
   * would need netem, which not every kernel has; the token bucket filter is everywhere.)
   */
  public synchronized void throttle(int index, int kbit) throws IOException {
    String verb = throttled.add(index) ? "add" : "change";
    in(
        index,
        "tc",
        "qdisc",
        verb,
        "dev",
        "m0",
        "root",
        "tbf",
        "rate",
        kbit + "kbit",
        "burst",
        "16kbit",
        "latency",
        "2s");
  }

  /** Removes every cut and every throttle. */
  public synchronized void heal() throws IOException {
    for (String cut : List.copyOf(cuts)) {
      String[] parts = cut.split(">");
      int from = Integer.parseInt(parts[0]);
      String to = parts[1].equals("host") ? hostAddress() : address(Integer.parseInt(parts[1]));
      in(from, "ip", "route", "del", "blackhole", to + "/32");
      cuts.remove(cut);
    }
    for (int index : List.copyOf(throttled)) {
      in(index, "tc", "qdisc", "del", "dev", "m0", "root");
      throttled.remove(index);
    }
  }

  /** The cuts and throttles in force, for the nemesis log. */
  public synchronized String describe() {
    List<String> parts = new ArrayList<>(cuts);
    throttled.forEach(i -> parts.add("throttle n" + (i + 1)));
    return parts.isEmpty() ? "healed" : String.join(", ", parts);
  }

  private String namespace(int index) {
    return "mrd-" + tag + "-" + index;
  }

  private String bridge() {
    return "mb" + tag;
  }

  private String hostEnd(int index) {
    return "mh" + tag + "x" + index;
  }

  private void in(int index, String... command) throws IOException {
    List<String> full = new ArrayList<>(prefix(index));
    full.addAll(List.of(command));
    must(full.toArray(String[]::new));
  }

  private static void must(String... command) throws IOException {
    int exit = run(command);
    if (exit != 0) {
      throw new IOException(String.join(" ", command) + " exited " + exit);
    }
  }

  private static int run(String... command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish in 30 s");
      }
      if (p.exitValue() != 0 && !out.isBlank()) {
        System.err.println(String.join(" ", command) + ": " + out.strip());
      }
      return p.exitValue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted running " + String.join(" ", command), e);
    }
  }

  /** Deletes the namespaces (their interfaces go with them) and the bridge. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (int i = 0; i < size; i++) {
      try {
        run("ip", "netns", "del", namespace(i));
      } catch (IOException e) {
        // Best effort: the next one may still go.
      }
    }
    try {
      run("ip", "link", "del", bridge());
    } catch (IOException e) {
      // Nothing more to do.
    }
  }
}
