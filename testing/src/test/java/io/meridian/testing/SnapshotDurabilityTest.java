package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.SnapshotRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot is durable once taken: its file and its checksum file are renamed into place, and the
 * renames themselves survive a crash only once the directory is synced. Ratis purges the log up to
 * the snapshot, so a snapshot lost in a crash is state lost. Watched with strace on a real node
 * process (the order of the system calls is the behaviour under test).
 */
@Tag("cluster")
class SnapshotDurabilityTest {
  @TempDir Path dir;

  private static boolean straceWorks() {
    try {
      Process p = new ProcessBuilder("strace", "-qq", "-e", "trace=none", "true").start();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  @Test
  void theSnapshotDirectoryIsSyncedAfterBothRenames() throws Exception {
    Assumptions.assumeTrue(straceWorks(), "needs strace (and ptrace) to watch the node's calls");
    Path trace = dir.resolve("trace.txt");
    List<NodeConfig> configs =
        DevCluster.plan(dir, 1, "durable", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    List<String> strace =
        List.of(
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=openat,rename,renameat,renameat2,fsync,fdatasync",
            "-o",
            trace.toString());
    try (ProcessRegion node = new ProcessRegion(dir, configs, strace)) {
      node.start(0);
      await()
          .atMost(Duration.ofSeconds(120))
          .ignoreExceptions()
          .until(
              () -> {
                node.kv(0)
                    .put(
                        PutRequest.newBuilder()
                            .setKey("/d/k")
                            .setValue(ByteString.copyFromUtf8("v"))
                            .build());
                return true;
              });
      long index =
          node.cluster(0)
              .snapshot(SnapshotRequest.getDefaultInstance())
              .getSnapshotIndexMap()
              .get(0);
      String name = Pattern.quote("snapshot.") + "\\d+_" + index;

      List<String> calls = joined(Files.readAllLines(trace));
      int lastRename = -1;
      String smDir = null;
      Pattern rename =
          Pattern.compile("rename(?:at2?)?\\(.*\"([^\"]*/)(" + name + "(?:\\.md5)?)\".*= 0");
      for (int i = 0; i < calls.size(); i++) {
        Matcher m = rename.matcher(calls.get(i));
        if (m.find()) {
          lastRename = i;
          smDir = m.group(1).substring(0, m.group(1).length() - 1);
        }
      }
      assertThat(lastRename).as("the snapshot's renames in %s", trace).isNotNegative();
      // The writer thread itself must open the directory and sync it, after its last rename.
      String writer = pid(calls.get(lastRename));
      List<String> after =
          calls.subList(lastRename + 1, calls.size()).stream()
              .filter(call -> pid(call).equals(writer))
              .toList();
      Pattern open =
          Pattern.compile("openat\\(.*\"" + Pattern.quote(smDir) + "\", [^)]*\\) = (\\d+)");
      boolean synced = false;
      for (int i = 0; i < after.size() && !synced; i++) {
        Matcher m = open.matcher(after.get(i));
        if (m.find()) {
          Pattern fsync = Pattern.compile("f(?:data)?sync\\(" + m.group(1) + "\\) += 0");
          for (int j = i + 1; j < after.size() && !synced; j++) {
            synced = fsync.matcher(after.get(j)).find();
          }
        }
      }
      assertThat(synced)
          .as(
              "an fsync of %s by thread %s after the last rename of snapshot %d; that rename and"
                  + " the thread's next calls:%n%s",
              smDir,
              writer,
              index,
              String.join(
                  System.lineSeparator(),
                  Stream.concat(Stream.of(calls.get(lastRename)), after.stream().limit(20))
                      .toList()))
          .isTrue();
    } finally {
      Files.deleteIfExists(trace);
    }
  }

  /** The thread id strace put at the start of a line with {@code -f}. */
  private static String pid(String call) {
    int space = call.indexOf(' ');
    return space < 0 ? "" : call.substring(0, space);
  }

  /**
   * The trace with each call on one line, where it returned: with several threads, strace splits a
   * call that another thread interrupts into {@code pid call(args <unfinished ...>} and, later,
   * {@code pid <... call resumed>rest}.
   */
  private static List<String> joined(List<String> lines) {
    Map<String, String> unfinished = new HashMap<>();
    List<String> out = new ArrayList<>();
    Pattern resumed = Pattern.compile("^(\\d+)\\s+<\\.\\.\\. \\w+ resumed>(.*)$");
    for (String line : lines) {
      int cut = line.indexOf(" <unfinished ...>");
      if (cut >= 0) {
        unfinished.put(pid(line), line.substring(0, cut));
        continue;
      }
      Matcher m = resumed.matcher(line);
      if (m.find() && unfinished.containsKey(m.group(1))) {
        out.add(unfinished.remove(m.group(1)) + m.group(2));
      } else {
        out.add(line);
      }
    }
    return out;
  }
}
