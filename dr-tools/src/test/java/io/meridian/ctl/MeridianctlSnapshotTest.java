package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.LocalRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meridianctl snapshot save|verify|restore}: a file saved from a region taking writes, and a
 * new 3-member cluster started from it.
 */
@Tag("cluster")
class MeridianctlSnapshotTest {
  @TempDir Path dir;

  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode json(CtlRun run) throws Exception {
    assertThat(run.code()).as(run.err()).isZero();
    return JSON.readTree(run.out());
  }

  @Test
  void savedWhileWritingVerifiedAndRestoredIntoANewClusterWithTheSameContent() throws Exception {
    Path file = dir.resolve("s0.msnap");
    JsonNode saved;
    try (LocalRegion region = LocalRegion.builder(dir.resolve("old")).start()) {
      region.awaitReady();
      String endpoints = String.join(",", region.urls());
      for (int i = 0; i < 20; i++) {
        assertThat(CtlRun.ctl(endpoints, "kv", "put", "/s/k" + i, "v" + i).code()).isZero();
      }
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger written = new AtomicInteger();
      Thread writer =
          new Thread(
              () -> {
                for (int i = 0; !stop.get(); i++) {
                  if (CtlRun.ctl(endpoints, "kv", "put", "/w/k" + (i % 10), "x" + i).code() == 0) {
                    written.incrementAndGet();
                  }
                }
              });
      writer.start();
      try {
        await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > 5);
        CtlRun save = CtlRun.ctl(endpoints, "snapshot", "save", file.toString());
        assertThat(save.code()).as(save.err()).isZero();
        assertThat(save.out()).contains("STATE_HASH").contains("CHAIN_HASH");
        int after = written.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> written.get() > after + 5);
      } finally {
        stop.set(true);
        writer.join(30_000);
      }
      CtlRun again = CtlRun.ctl(endpoints, "snapshot", "save", file.toString());
      assertThat(again.code()).isEqualTo(1);
      assertThat(again.err()).contains("ALREADY_EXISTS").contains("exists");
    }

    saved = json(CtlRun.run("snapshot", "verify", file.toString(), "-o", "json"));
    long revision = saved.path("revision").asLong();
    assertThat(revision).isGreaterThanOrEqualTo(26);
    CtlRun verified = CtlRun.run("snapshot", "verify", file.toString());
    assertThat(verified.code()).as(verified.err()).isZero();
    assertThat(verified.out()).contains("verified");

    // A copy with one body byte flipped fails, naming the check.
    Path corrupt = dir.resolve("corrupt.msnap");
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 3] ^= 0x5a;
    Files.write(corrupt, bytes);
    CtlRun bad = CtlRun.run("snapshot", "verify", corrupt.toString());
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).startsWith("Error: ").contains("snapshot verify failed");
    Path truncated = dir.resolve("truncated.msnap");
    Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 3));
    CtlRun cut = CtlRun.run("snapshot", "verify", truncated.toString());
    assertThat(cut.code()).isEqualTo(1);
    assertThat(cut.err()).contains("not a snapshot file");
    assertThat(CtlRun.run("snapshot", "verify", dir.resolve("none").toString()).code())
        .isEqualTo(2);

    DevCluster plan = DevCluster.plan(dir.resolve("new"), 3, "test", fast());
    List<NodeConfig> configs = plan.configs();
    String peers =
        configs.stream()
            .map(c -> c.member() + "=" + c.self().peer())
            .collect(Collectors.joining(","));
    for (NodeConfig c : configs) {
      CtlRun restore =
          CtlRun.run(
              "snapshot",
              "restore",
              file.toString(),
              "--data-dir",
              c.dataDir(),
              "--member",
              c.member(),
              "--peers",
              peers);
      assertThat(restore.code()).as(restore.err()).isZero();
      assertThat(restore.out()).contains("s-");
    }
    CtlRun nonEmpty =
        CtlRun.run(
            "snapshot",
            "restore",
            file.toString(),
            "--data-dir",
            configs.get(0).dataDir(),
            "--member",
            "n1",
            "--peers",
            peers);
    assertThat(nonEmpty.code()).isEqualTo(1);
    assertThat(nonEmpty.err()).contains("FAILED_PRECONDITION").contains("not empty");
    Path fresh = dir.resolve("fresh");
    CtlRun badPeers =
        CtlRun.run(
            "snapshot",
            "restore",
            file.toString(),
            "--data-dir",
            fresh.toString(),
            "--member",
            "n1",
            "--peers",
            "n1=localhost");
    assertThat(badPeers.code()).isEqualTo(2);
    assertThat(badPeers.err()).contains("--peers");
    CtlRun stranger =
        CtlRun.run(
            "snapshot",
            "restore",
            file.toString(),
            "--data-dir",
            fresh.toString(),
            "--member",
            "n9",
            "--peers",
            peers);
    assertThat(stranger.code()).isEqualTo(2);
    assertThat(stranger.err()).contains("--member: n9");
    assertThat(Files.exists(fresh)).isFalse();

    try (DevCluster cluster = plan.start()) {
      await().atMost(Duration.ofSeconds(60)).until(() -> cluster.readyLeader() >= 0);
      String endpoints =
          cluster.nodes().stream().map(n -> n.clientUrl()).collect(Collectors.joining(","));
      CtlRun get = CtlRun.ctl(endpoints, "kv", "get", "/s/k7");
      assertThat(get.code()).as(get.err()).isZero();
      assertThat(get.out()).contains("v7");

      // A fresh snapshot of the new cluster, at the same revision, has the same content.
      Path again = dir.resolve("restored.msnap");
      JsonNode resaved =
          json(CtlRun.ctl(endpoints, "snapshot", "save", again.toString(), "-o", "json"));
      assertThat(resaved.path("revision").asLong()).isEqualTo(revision);
      assertThat(resaved.path("stateHash").asText()).isEqualTo(saved.path("stateHash").asText());
      assertThat(resaved.path("chainHash").asText()).isEqualTo(saved.path("chainHash").asText());
      assertThat(resaved.path("compactRevision").asLong()).isEqualTo(revision);

      CtlRun below = CtlRun.ctl(endpoints, "watch", "/s/k1", "--rev", Long.toString(revision - 3));
      assertThat(below.code()).isEqualTo(1);
      assertThat(below.err()).startsWith("Error: COMPACTED: ");

      CtlRun put = CtlRun.ctl(endpoints, "kv", "put", "/s/after", "1");
      assertThat(put.code()).as(put.err()).isZero();
    }
  }

  private static Map<String, Map<String, Object>> fast() {
    Map<String, Map<String, Object>> o = new java.util.HashMap<>();
    o.put("raft", new java.util.HashMap<>(DevCluster.FAST_ELECTIONS));
    return o;
  }
}
