package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.PutRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * Workload 10: puts at concurrency 16 over a shard holding {@link #KEYS} keys, while the nodes take
 * snapshots of it. What a snapshot costs the write path shows in the tail (p99.9, max): a snapshot
 * written on the apply thread stops every apply on that member for as long as the write takes. Run
 * with a low {@code --snapshot-threshold} (2,000) so that several snapshots fall in the window.
 */
final class SnapshotWorkload {
  static final int KEYS = 100_000;
  private static final int PRELOAD_IN_FLIGHT = 128;
  private static final Duration PRELOAD_LIMIT = Duration.ofMinutes(5);
  // What ShardStateMachine logs once per snapshot written.
  private static final String SNAPSHOT_LINE = "shard=0 snapshot at";

  private final Endpoints endpoints;
  private final LoadDriver driver;
  private final ByteString value;
  private final Random random;

  SnapshotWorkload(Endpoints endpoints, LoadDriver driver, ByteString value, Random random) {
    this.endpoints = endpoints;
    this.driver = driver;
    this.value = value;
    this.random = random;
  }

  void run(NodeProcesses nodes, List<Result> results, List<String> notes)
      throws InterruptedException {
    preload();
    List<Integer> before = snapshotCounts(nodes);
    Result result =
        Bench.progress(
            driver.closed(
                "put over " + String.format("%,d", KEYS) + " keys, snapshots being taken",
                16,
                w -> put(random(KEYS))));
    results.add(result);
    List<Integer> after = snapshotCounts(nodes);
    StringBuilder note =
        new StringBuilder(
            "Snapshots written during the warm-up and window of workload 10, by node:");
    for (int i = 0; i < after.size(); i++) {
      note.append(
          String.format(" %s %d;", nodes.configs().get(i).member(), after.get(i) - before.get(i)));
    }
    note.append(" the last ones:\n\n");
    for (var config : nodes.configs()) {
      Path log = nodes.dir().resolve(config.member() + ".log");
      for (String line : tail(NodeProbe.logLines(log, SNAPSHOT_LINE, Integer.MAX_VALUE), 2)) {
        note.append("- `").append(line.replace('`', '\'')).append("`\n");
      }
    }
    notes.add(note.toString());
  }

  private int random(int bound) {
    synchronized (random) {
      return random.nextInt(bound);
    }
  }

  /** Writes every key once, {@link #PRELOAD_IN_FLIGHT} at a time. */
  private void preload() throws InterruptedException {
    System.err.printf("bench: writing %,d keys for the snapshot workload%n", KEYS);
    LoadDriver.each("preload", KEYS, PRELOAD_IN_FLIGHT, PRELOAD_LIMIT, this::put);
  }

  private CompletableFuture<?> put(int n) {
    PutRequest request = PutRequest.newBuilder().setKey("/snap/k" + n).setValue(value).build();
    return Endpoints.call(endpoints.next().kv()::put, request);
  }

  private static List<Integer> snapshotCounts(NodeProcesses nodes) {
    List<Integer> counts = new ArrayList<>();
    for (var config : nodes.configs()) {
      Path log = nodes.dir().resolve(config.member() + ".log");
      counts.add(NodeProbe.logLines(log, SNAPSHOT_LINE, Integer.MAX_VALUE).size());
    }
    return counts;
  }

  private static List<String> tail(List<String> lines, int n) {
    return lines.subList(Math.max(0, lines.size() - n), lines.size());
  }
}
