package io.meridian.cluster.node;

import static org.awaitility.Awaitility.await;

import io.meridian.cluster.DevCluster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower restarts with less of the log than the leader believes it has (its data was rolled
 * back to a copy taken earlier, as after a lost write or a restored backup). Ratis's stock log
 * appender then sends the same heartbeat forever (RATIS-2523) and the follower never catches up
 * while the cluster is idle; with load, every write is a chance to recover. Either way it must
 * reach the leader's applied index.
 */
@Tag("cluster")
class RestartedFollowerTest {
  @TempDir Path dir;

  @Test
  void aFollowerRolledBackCatchesUpOnAnIdleCluster() throws Exception {
    rollBackAndCatchUp(false);
  }

  @Test
  void aFollowerRolledBackCatchesUpUnderLoad() throws Exception {
    rollBackAndCatchUp(true);
  }

  private void rollBackAndCatchUp(boolean load) throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      int follower = (leader + 1) % 3;
      Clients c = Clients.of(cluster.node(leader));
      for (int i = 0; i < 100; i++) {
        c.put("/f/k" + i, "a");
      }
      ShardReplica lead = cluster.node(leader).replicas().get(0);
      awaitCaughtUp(cluster, follower, lead);
      Path data = Path.of(cluster.configs().get(follower).dataDir());
      Path copy = dir.resolve("copy");
      cluster.stop(follower);
      copyTree(data, copy);
      cluster.restart(follower);
      for (int i = 0; i < 100; i++) {
        c.put("/f/k" + i, "b");
      }
      awaitCaughtUp(cluster, follower, lead);

      // Roll the follower back: the leader's match index for it is now beyond its log.
      cluster.stop(follower);
      deleteTree(data);
      copyTree(copy, data);
      cluster.restart(follower);
      if (load) {
        for (int i = 0; i < 50; i++) {
          c.put("/f/load" + i, "c");
        }
      }
      awaitCaughtUp(cluster, follower, lead);
    }
  }

  private static void awaitCaughtUp(DevCluster cluster, int follower, ShardReplica leader) {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              var info = cluster.node(follower).replicas().get(0).info();
              return info != null
                  && info.getLastAppliedIndex() >= leader.info().getLastAppliedIndex();
            });
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      paths.forEach(
          p -> {
            try {
              Path target = to.resolve(from.relativize(p).toString());
              if (Files.isDirectory(p)) {
                Files.createDirectories(target);
              } else {
                Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
              }
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
