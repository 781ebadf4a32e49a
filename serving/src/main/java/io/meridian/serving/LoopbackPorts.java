package io.meridian.serving;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Ports for processes planned on one machine (dev deployments, tests, benchmarks). */
public final class LoopbackPorts {
  private LoopbackPorts() {}

  // Ports this JVM handed out: a port is planned once, even though it stays free until bound.
  private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

  /**
   * A port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range where there
   * is room: outgoing connections (the nodes' own, to each other and to Kafka) take their local
   * ports from that range, and one took a planned port before its node bound it ("Address already
   * in use" at start). Never the same port twice in one JVM.
   */
  public static int free() {
    int high = ephemeralLow() - 1;
    int low = 10_000;
    java.util.concurrent.ThreadLocalRandom random =
        java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; high - low >= 1_000 && attempt < 200; attempt++) {
      int port = low + random.nextInt(high - low + 1);
      if (!HANDED_OUT.contains(port) && bindable(port) && HANDED_OUT.add(port)) {
        return port;
      }
    }
    for (int attempt = 0; ; attempt++) {
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        if (HANDED_OUT.add(s.getLocalPort()) || attempt > 100) {
          return s.getLocalPort();
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The low end of Linux's ephemeral port range (32768 where it cannot be read). */
  static int ephemeralLow() {
    // A line reader: Files.readString and readAllBytes trust the size procfs reports, and JDK 17
    // returned "3" for "32768 60999", so every port came from the ephemeral range.
    try (BufferedReader in =
        Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
      String range = in.readLine();
      return Integer.parseInt(range.trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32768;
    }
  }
}
