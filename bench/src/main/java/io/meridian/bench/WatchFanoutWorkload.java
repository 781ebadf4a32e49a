package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.PutRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * Workload {@code watch-fanout}: 10,000 watchers on one node, held by a separate JVM ({@link
 * WatchFanout}) over 100 TCP connections, one Watch stream of 100 prefix watches on {@code /fan/}
 * per connection.
 *
 * <ol>
 *   <li>The watched node is a follower (the node after the leader); its heap is read after a full
 *       GC before the watcher process starts.
 *   <li>Once every watch is created, its heap is read again: (with - without) / 10,000 is the heap
 *       per watcher. The watcher process runs on its own heap, so only the node's share counts.
 *   <li>The bench writes {@code /fan/k<i>} through the leader at 5 per second, an open loop for the
 *       warm-up and the measured window, each value the wall-clock microsecond it was sent; the
 *       watcher process reports when the last of the 10,000 watchers saw each write.
 *   <li>After the watcher process stopped, the heap is read a third time (it should fall back).
 * </ol>
 *
 * Two latencies per write: from the put's send time, and from the put's acknowledgement at the
 * writer (the commit as the writer sees it; the watched follower may apply it before the
 * acknowledgement arrives, then the latency is counted as 0).
 */
final class WatchFanoutWorkload {
  static final int CONNECTIONS = 100;
  static final int WATCHES_PER_CONNECTION = 100;
  static final double WRITE_RATE = 5;
  static final String PREFIX = "/fan/";

  private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);

  /** How long after the last write the bench waits for every watcher to see it. */
  private static final Duration SETTLE = Duration.ofSeconds(30);

  private final LoadDriver driver;
  private final int connections;

  WatchFanoutWorkload(LoadDriver driver, double scale) {
    this.driver = driver;
    this.connections = connections(scale);
  }

  private static int connections(double scale) {
    return Math.max(1, (int) Math.round(CONNECTIONS * scale));
  }

  int watchers() {
    return connections * WATCHES_PER_CONNECTION;
  }

  /** Runs the workload; adds its rows to {@code results} and the heap figures to {@code notes}. */
  void run(NodeProcesses nodes, List<Result> results, List<String> notes)
      throws InterruptedException, IOException {
    List<String> urls = nodes.clientUrls();
    String leader =
        NodeProcesses.leader(urls.get(0))
            .orElseThrow(() -> new IllegalStateException("watch-fanout: no leader"));
    int leaderIndex = 0;
    for (int i = 0; i < nodes.configs().size(); i++) {
      if (nodes.configs().get(i).member().equals(leader)) {
        leaderIndex = i;
      }
    }
    int watched = (leaderIndex + 1) % urls.size();
    String watchedMember = nodes.configs().get(watched).member();
    long pid = nodes.pids().get(watched);
    Endpoints writer = Endpoints.of(List.of(urls.get(leaderIndex)));

    NodeProbe.Heap without = NodeProbe.heapAfterFullGc(pid);
    System.err.println(
        "bench: heap of " + watchedMember + " without watchers: " + without.describe());
    NodeProbe.Heap with;
    String readyLine;
    int writes =
        (int) Math.ceil((driver.warmup().toSeconds() + driver.duration().toSeconds()) * WRITE_RATE)
            + 1;
    long[] sent = new long[writes];
    long[] acked = new long[writes];
    Result puts;
    Map<Integer, long[]> last;
    Map<Integer, Integer> partial;
    String stats;
    List<String> watcherErrors;
    try (WatcherProcess watchers =
        WatcherProcess.start(
            List.of(
                "--url", urls.get(watched),
                "--connections", Integer.toString(connections),
                "--watches", Integer.toString(WATCHES_PER_CONNECTION),
                "--prefix", PREFIX,
                "--max-seconds", Long.toString(900)),
            nodes.dir().resolve("watch-fanout.log"))) {
      readyLine = watchers.awaitReady(READY_TIMEOUT);
      with = NodeProbe.heapAfterFullGc(pid);
      System.err.println("bench: heap of " + watchedMember + " with watchers: " + with.describe());
      puts =
          Bench.progress(
              driver.open(
                  "watch fan-out put (writer, to the leader)",
                  WRITE_RATE,
                  i -> {
                    if (i >= writes) {
                      throw new IllegalStateException("write " + i + " beyond the plan");
                    }
                    long now = WatchFanout.nowMicros();
                    sent[i] = now;
                    PutRequest put =
                        PutRequest.newBuilder()
                            .setKey(PREFIX + "k" + i)
                            .setValue(ByteString.copyFromUtf8(Long.toString(now)))
                            .build();
                    return Endpoints.call(writer.next().kv()::put, put)
                        .thenAccept(r -> acked[i] = WatchFanout.nowMicros());
                  }));
      long settleEnd = System.nanoTime() + SETTLE.toNanos();
      while (watchers.last().size() < countAcked(acked)
          && System.nanoTime() < settleEnd
          && watchers.isAlive()) {
        Thread.sleep(50);
      }
      watchers.close();
      last = watchers.last();
      partial = watchers.partial();
      stats = watchers.stats();
      watcherErrors = watchers.errors();
    }
    Thread.sleep(2_000); // Let the node notice the closed connections and drop the watches.
    NodeProbe.Heap after = NodeProbe.heapAfterFullGc(pid);
    System.err.println("bench: heap of " + watchedMember + " after watchers: " + after.describe());

    int firstMeasured = (int) Math.ceil(driver.warmup().toSeconds() * WRITE_RATE);
    Histogram fromSend = new Histogram(LoadDriver.HIGHEST_US, 3);
    Histogram fromAck = new Histogram(LoadDriver.HIGHEST_US, 3);
    long missing = 0;
    long ackAfterLast = 0;
    long measuredWrites = 0;
    for (int i = firstMeasured; i < writes; i++) {
      if (acked[i] == 0) {
        continue; // The put failed: counted in the writer's row.
      }
      measuredWrites++;
      long[] l = last.get(i);
      if (l == null) {
        missing++;
        continue;
      }
      fromSend.recordValue(clamp(l[2] - sent[i]));
      if (l[2] < acked[i]) {
        ackAfterLast++;
      }
      fromAck.recordValue(clamp(l[2] - acked[i]));
    }
    double seconds = driver.duration().toNanos() / 1e9;
    String missingError =
        missing == 0
            ? null
            : missing + " of " + measuredWrites + " writes not seen by all watchers in time";
    String load =
        String.format(
            Locale.ROOT,
            "%,d watchers on %s over %d connections, writes at %.0f/s",
            watchers(),
            watchedMember,
            connections,
            WRITE_RATE);
    results.add(puts);
    results.add(
        Bench.progress(
            Result.of(
                "watch fan-out: put sent → last watcher's event",
                load,
                fromSend,
                seconds,
                missing,
                missingError)));
    results.add(
        Bench.progress(
            Result.of(
                "watch fan-out: put acknowledged → last watcher's event",
                load,
                fromAck,
                seconds,
                missing,
                missingError)));
    notes.add(
        String.format(
            Locale.ROOT,
            "Watch fan-out on %s (pid %d; leader %s, the writer's target): %s (READY line: `%s`;"
                + " the last number is the watcher process's established TCP connections to the"
                + " node, from /proc). Used heap of %s after a full GC (`jcmd GC.run`, then"
                + " `GC.heap_info`): without watchers %s; with %,d watchers %s; after the watcher"
                + " process exited %s. **Heap per watcher: %.0f bytes** ((with - without) / %,d). In %d of %d measured writes the last watcher's event came"
                + " before the put's acknowledgement reached the writer (counted as 0 µs)."
                + " Watcher process: %s; writes not seen by all watchers at its exit: %s; its"
                + " error lines: %s.%n",
            watchedMember,
            pid,
            leader,
            load,
            readyLine,
            watchedMember,
            without.describe(),
            watchers(),
            with.describe(),
            after.describe(),
            (with.usedBytes() - without.usedBytes()) / (double) watchers(),
            watchers(),
            ackAfterLast,
            measuredWrites,
            stats == null ? "no STATS line" : stats,
            partial.isEmpty() ? "none" : partial.toString(),
            watcherErrors.isEmpty() ? "none" : "`" + String.join("`; `", watcherErrors) + "`"));
  }

  private static long countAcked(long[] acked) {
    long n = 0;
    for (long s : acked) {
      if (s != 0) {
        n++;
      }
    }
    return n;
  }

  private static long clamp(long micros) {
    return Math.max(1, Math.min(LoadDriver.HIGHEST_US, micros));
  }

  /** What the configuration section says about this workload at {@code scale}. */
  static String describe(double scale) {
    int connections = connections(scale);
    return String.format(
        Locale.ROOT,
        "%,d watchers (%d connections x %d prefix watches on %s) in a separate JVM"
            + " (`%s`) on one follower; writes through the leader at %.0f/s",
        connections * WATCHES_PER_CONNECTION,
        connections,
        WATCHES_PER_CONNECTION,
        PREFIX,
        WatcherProcess.JVM_OPTIONS,
        WRITE_RATE);
  }
}
