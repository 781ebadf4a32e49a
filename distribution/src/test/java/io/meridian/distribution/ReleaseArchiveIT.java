package io.meridian.distribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.serving.LoopbackPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive on its own: unpacked into an empty directory, with an environment that holds
 * a JDK and the system's tools only (no Maven, no repository, no source tree), it starts a node and
 * a router, and its meridianctl reaches them.
 */
@Tag("cluster")
class ReleaseArchiveIT {
  static final Duration START = Duration.ofMinutes(2);

  @TempDir Path dir;

  @Test
  void unpackedAloneItRunsANodeARouterAndMeridianctl() throws Exception {
    String version = System.getProperty("meridian.version");
    try (Installed m = Installed.unpack(dir)) {
      assertThat(m.home.getFileName().toString()).isEqualTo("meridian-" + version);
      assertContents(m.home);

      String printed = m.run("bin/meridian", "--version").trim();
      // Built from a Git checkout (as every build of this tree is), the commit is known.
      String commit = Files.exists(Path.of("..", ".git")) ? "[0-9a-f]{10}" : "unknown";
      assertThat(printed).matches("meridian \\Q" + version + "\\E \\(commit " + commit + "\\)");
      assertThat(m.run("bin/meridianctl", "--version").trim())
          .isEqualTo(printed.replace("meridian ", "meridianctl "));

      int client = LoopbackPorts.free();
      int peer = LoopbackPorts.free();
      int routerPort = LoopbackPorts.free();
      Path conf = Files.createDirectories(dir.resolve("etc"));
      String clientUrl = "http://127.0.0.1:" + client;
      Files.writeString(
          conf.resolve("node.yaml"),
          String.join(
              "\n",
              "member: n1",
              "region: us-east",
              "data-dir: " + dir.resolve("data"),
              "client: {host: 127.0.0.1, port: " + client + "}",
              "peer: {host: 127.0.0.1, port: " + peer + "}",
              "members:",
              "  - {id: n1, peer: \"127.0.0.1:" + peer + "\", client: \"" + clientUrl + "\"}",
              "shards:",
              "  - {id: 0, role: PRIMARY, epoch: 1}",
              ""));
      Files.writeString(
          conf.resolve("routing-table.yaml"),
          String.join(
              "\n",
              "version: 1",
              "slots:",
              "  - {range: 0-4095, shard: 0}",
              "shards:",
              "  - id: 0",
              "    regions:",
              "      - {region: us-east, role: PRIMARY, epoch: 1, endpoints: [\""
                  + clientUrl
                  + "\"]}",
              ""));
      Files.writeString(
          conf.resolve("router.yaml"),
          String.join(
              "\n",
              "region: us-east",
              "listen: {host: 127.0.0.1, port: " + routerPort + "}",
              "table: routing-table.yaml",
              ""));

      Process node = m.start("node", "bin/meridian", "node", "--config", conf + "/node.yaml");
      Process router =
          m.start("router", "bin/meridian", "router", "--config", conf + "/router.yaml");
      String routerUrl = "http://127.0.0.1:" + routerPort;
      await().atMost(START).ignoreExceptions().until(() -> Installed.healthy(clientUrl));
      await().atMost(START).ignoreExceptions().until(() -> Installed.healthy(routerUrl));
      for (Process p : List.of(node, router)) {
        // The command line names the archive's jars and nothing from a build.
        String line = p.info().commandLine().orElse("");
        assertThat(line).contains(m.home.resolve("lib") + "/*").doesNotContain(".m2");
      }

      // A write and a read through the router, then the status, by the archive's meridianctl.
      await()
          .atMost(START)
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(
                          m.run(
                              "bin/meridianctl",
                              "--endpoints",
                              routerUrl,
                              "kv",
                              "put",
                              "/a/k",
                              "v"))
                      .startsWith("KEY")
                      .contains("/a/k"));
      assertThat(m.run("bin/meridianctl", "--endpoints", routerUrl, "kv", "get", "/a/k"))
          .contains("/a/k");
      assertThat(m.run("bin/meridianctl", "--endpoints", routerUrl, "status"))
          .startsWith("SHARD")
          .contains("us-east", "PRIMARY", "HEALTHY");
    }
  }

  /**
   * systemd's own check of the units, where this machine has systemd-analyze: every key known and
   * valid. (Here /opt/meridian does not exist and no systemd runs, so "not executable" and missing
   * targets are expected and left out.)
   */
  @Test
  void theSystemdUnitsUseOnlyKeysSystemdKnows() throws Exception {
    Path analyze = Path.of("/usr/bin/systemd-analyze");
    if (!Files.isExecutable(analyze)) {
      System.out.println("SKIPPED: systemd-analyze not found: the units' keys are not checked");
      return;
    }
    try (Installed m = Installed.unpack(dir)) {
      for (String role : List.of("node", "router", "bridge")) {
        Path unit = m.home.resolve("systemd/meridian-" + role + ".service");
        Installed.Result r = m.exec(List.of(analyze.toString(), "verify", unit.toString()));
        List<String> complaints =
            r.out()
                .lines()
                .filter(l -> !l.contains("is not executable") && !l.contains("not found"))
                .filter(l -> !l.isBlank())
                .toList();
        assertThat(complaints).as(unit + ":\n" + r.out()).isEmpty();
      }
    }
  }

  private static void assertContents(Path home) throws IOException {
    for (String script : List.of("bin/meridian", "bin/meridianctl")) {
      assertThat(Files.getPosixFilePermissions(home.resolve(script)))
          .as(script)
          .contains(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
    }
    for (String file :
        List.of(
            "README.md",
            "conf/node.yaml",
            "conf/router.yaml",
            "conf/routing-table.yaml",
            "conf/bridge.yaml",
            "systemd/meridian-node.service",
            "systemd/meridian-router.service",
            "systemd/meridian-bridge.service",
            "docs/operations.md")) {
      assertThat(home.resolve(file)).as(file).isRegularFile();
    }
    try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
      assertThat(lib.map(p -> p.getFileName().toString()))
          .anyMatch(n -> n.startsWith("meridian-launcher-"))
          .anyMatch(n -> n.startsWith("meridian-dr-tools-"))
          .noneMatch(n -> n.startsWith("kafka_"));
    }
    try (Stream<Path> kafka = Files.list(home.resolve("lib/kafka"))) {
      assertThat(kafka.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("kafka_"));
    }
    String unit = Files.readString(home.resolve("systemd/meridian-node.service"));
    assertThat(unit)
        .contains("User=meridian", "LimitNOFILE=", "Restart=on-failure", "StateDirectoryMode=0700")
        .contains("ExecStart=/opt/meridian/bin/meridian node --config /etc/meridian/node.yaml");
    assertThat(Files.readString(home.resolve("README.md"))).doesNotContain("${");
  }
}
