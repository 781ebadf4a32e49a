package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scheduled backups on a real cluster whose members share one backup directory. */
@Tag("cluster")
class BackupScheduleTest {
  @TempDir Path dir;

  private DevCluster start(Map<String, Object> backup) throws IOException {
    Map<String, Map<String, Object>> overrides = TestClusters.fast();
    Map<String, Object> b = new HashMap<>(backup);
    b.put("dir", dir.resolve("backups").toString());
    overrides.put("backup", b);
    return TestClusters.start(dir.resolve("cluster"), overrides);
  }

  private List<Path> files() throws IOException {
    Path shard = dir.resolve("backups/shard-0");
    if (!Files.isDirectory(shard)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(shard)) {
      // By the revision the name carries: as text, "-r33-" would come before "-r9-".
      return s.filter(p -> p.toString().endsWith(SnapshotFile.SUFFIX))
          .sorted(java.util.Comparator.comparingLong(BackupScheduleTest::revisionOf))
          .toList();
    }
  }

  private static long revisionOf(Path file) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("-r(\\d+)-").matcher(file.getFileName().toString());
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  @Test
  void theLeaderBacksUpEveryNEntriesAndTheFilesVerify() throws Exception {
    try (DevCluster cluster =
        start(Map.of("every-entries", 10, "interval-ms", 0, "retention-ms", 0))) {
      MeridianNode leader = cluster.node(TestClusters.awaitReady(cluster));
      Clients c = Clients.of(leader);
      for (int i = 0; i < 20; i++) {
        c.put("/b/k" + i, "v" + i);
      }
      // The first backup comes at once, the next after 10 more entries.
      await().atMost(Duration.ofSeconds(60)).until(() -> files().size() >= 1);
      int before = files().size();
      for (int i = 20; i < 40; i++) {
        c.put("/b/k" + i, "v" + i);
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> files().size() > before);
      List<Path> files = files();
      SnapshotFile.Verified newest = SnapshotFile.verify(files.get(files.size() - 1));
      SnapshotManifest m = newest.manifest();
      assertThat(m.getShard()).isZero();
      assertThat(m.getRegion()).isEqualTo("test");
      assertThat(m.getMember()).isEqualTo(leader.config().member());
      assertThat(m.getRevision()).isPositive();
      // Every file names the revision it holds, and each holds more than the one before.
      long previous = -1;
      for (Path f : files) {
        SnapshotManifest each = SnapshotFile.readManifest(f);
        assertThat(f.getFileName().toString()).contains("-r" + each.getRevision() + "-");
        assertThat(each.getRevision()).isGreaterThan(previous);
        previous = each.getRevision();
      }
      // A backup taken now holds what the leader has.
      Path now = leader.backups().backupNow(0);
      ShardState.Frozen state = leader.replicas().get(0).read(ShardState::freeze);
      SnapshotManifest taken = SnapshotFile.verify(now).manifest();
      if (taken.getRevision() == state.revision()) {
        assertThat(taken.getStateHash()).isEqualTo(state.describe().getStateHash());
      }
      assertThat(taken.getKeys()).isEqualTo(40);
    }
  }

  @Test
  void byTimeOnlyWhenTheShardChangedAndOldFilesArePrunedKeepingTheNewest() throws Exception {
    try (DevCluster cluster =
        start(Map.of("every-entries", 0, "interval-ms", 300, "retention-ms", 1))) {
      Clients c = Clients.of(cluster.node(TestClusters.awaitReady(cluster)));
      c.put("/b/first", "1");
      await().atMost(Duration.ofSeconds(60)).until(() -> newestRevisionIs(revisionOf(cluster)));
      c.put("/b/second", "2");
      long second = revisionOf(cluster);
      await().atMost(Duration.ofSeconds(60)).until(() -> newestRevisionIs(second));
      // Retention of 1 ms leaves only the newest; with no new writes no new file appears.
      await().atMost(Duration.ofSeconds(30)).until(() -> files().size() == 1);
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(10))
          .until(() -> files().size() == 1 && newestRevisionIs(second));
    }
  }

  private static long revisionOf(DevCluster cluster) {
    MeridianNode leader = cluster.node(TestClusters.awaitReady(cluster));
    return leader.replicas().get(0).read(ShardState::revision);
  }

  private boolean newestRevisionIs(long revision) throws IOException {
    List<Path> files = files();
    return !files.isEmpty()
        && SnapshotFile.readManifest(files.get(files.size() - 1)).getRevision() == revision;
  }
}
