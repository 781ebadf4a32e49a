package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.cluster.config.NodeConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node bound to one interface's address, as in a real deployment, not to loopback or the
 * wildcard: it runs in a network namespace this test creates, on the address of a veth interface
 * inside it. Needs root and iproute2 ({@code ip netns}); CI runs as root.
 */
@Tag("cluster")
class InterfaceBindingTest {
  @TempDir Path dir;

  private static int run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  private static String output(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }

  @Test
  void aNodeBoundToAnInterfaceAddressStartsAndServes() throws Exception {
    String ns = "mrd-bind-" + ProcessHandle.current().pid() + "-" + new Random().nextInt(1000);
    Assumptions.assumeTrue(
        run("ip", "netns", "add", ns) == 0,
        "needs root and iproute2 to create a network namespace (ip netns add)");
    String host = "10.213." + new Random().nextInt(256) + ".1";
    try {
      for (String[] step :
          new String[][] {
            {"ip", "link", "set", "lo", "up"},
            {"ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"},
            {"ip", "addr", "add", host + "/30", "dev", "va"},
            {"ip", "link", "set", "va", "up"},
            {"ip", "link", "set", "vb", "up"}
          }) {
        String[] inNs = new String[step.length + 4];
        System.arraycopy(new String[] {"ip", "netns", "exec", ns}, 0, inNs, 0, 4);
        System.arraycopy(step, 0, inNs, 4, step.length);
        assertThat(run(inNs)).as(String.join(" ", step)).isZero();
      }
      NodeConfig config =
          NodeConfig.parse(
              String.join(
                  "\n",
                  "member: n1",
                  "region: bound",
                  "data-dir: " + dir.resolve("n1"),
                  "client: {host: " + host + ", port: 7100}",
                  "peer: {host: " + host + ", port: 7101}",
                  "members:",
                  "  - {id: n1, peer: '" + host + ":7101', client: 'http://" + host + ":7100'}",
                  "shards: [{id: 0, role: PRIMARY, epoch: 1}]"));
      try (ProcessRegion node =
          new ProcessRegion(dir, List.of(config), List.of("ip", "netns", "exec", ns))) {
        node.start(0);
        String health =
            "exec 3<>/dev/tcp/"
                + host
                + "/7100; printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3; head -1 <&3";
        await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(500))
            .until(() -> output("ip", "netns", "exec", ns, "bash", "-c", health).contains("200"));
        assertThat(Files.readString(node.log(0)))
            .contains("on http://" + host + ":7100")
            .doesNotContain("no active local ports");
      }
    } finally {
      run("ip", "netns", "del", ns);
    }
  }
}
