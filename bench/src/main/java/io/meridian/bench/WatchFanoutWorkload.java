package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
 *   <li>One write at a time: the bench puts {@code /fan/k<i>} through the leader, waits until the
 *       last watcher has seen it (at most {@link #SETTLE}), then writes the next, for the measured
 *       duration (the first {@link #ISOLATED_WARMUP} writes are not measured). This is the fan-out
 *       time of one write with nothing queued before it.
 *   <li>Writes at 5 per second, an open loop for the warm-up and the measured window: the fan-out
 *       under a sustained write rate, queueing included. The bench then waits up to {@link #SETTLE}
 *       for the last events.
 *   <li>After the watcher process stopped, the heap is read a third time (it should fall back).
 * </ol>
 *
 * Each value is the wall-clock microsecond the put was sent; the watcher process reports when the
 * first and the last of the 10,000 watchers saw each write. Latencies run from the put's send time,
 * and also from the put's acknowledgement at the writer (the commit as the writer sees it; the
 * watched follower may apply a write before the acknowledgement arrives, then that latency counts
 * as 0).
 */
final class WatchFanoutWorkload {
  static final int CONNECTIONS = 100;
  static final int WATCHES_PER_CONNECTION = 100;
  static final double WRITE_RATE = 5;
  static final String PREFIX = "/fan/";
  static final int ISOLATED_WARMUP = 2;
  static final int MAX_ISOLATED = 200;

  private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);

  /** How long the bench waits for every watcher to see a write (or the last of the open loop). */
  static final Duration SETTLE = Duration.ofSeconds(30);

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

  /** Sends and acknowledgement times (wall-clock µs) of writes {@code 0..n-1} of one phase. */
  private record Writes(int firstIndex, long[] sent, long[] acked) {
    Writes(int firstIndex, int n) {
      this(firstIndex, new long[n], new long[n]);
    }

    int acknowledged() {
      int n = 0;
      for (long a : acked) {
        if (a != 0) {
          n++;
        }
      }
      return n;
    }
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
    String member = nodes.configs().get(watched).member();
    long pid = nodes.pids().get(watched);
    Endpoints writer = Endpoints.of(List.of(urls.get(leaderIndex)));
    String load =
        String.format(
            Locale.ROOT, "%,d watchers on %s over %d connections", watchers(), member, connections);

    NodeProbe.Heap without = NodeProbe.heapAfterFullGc(pid);
    System.err.println("bench: heap of " + member + " without watchers: " + without.describe());
    NodeProbe.Heap with;
    String readyLine;
    Writes isolated = new Writes(0, MAX_ISOLATED);
    int isolatedCount;
    long isolatedNanos;
    Writes paced;
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
      System.err.println("bench: heap of " + member + " with watchers: " + with.describe());

      long start = System.nanoTime();
      long end = start + driver.duration().toNanos();
      int i = 0;
      for (; i < MAX_ISOLATED && (i < ISOLATED_WARMUP || System.nanoTime() < end); i++) {
        int index = i;
        try {
          Endpoints.await(put(writer, index, isolated, index));
        } catch (IllegalStateException e) {
          System.err.println("bench: watch fan-out: isolated put failed: " + e.getMessage());
          continue;
        }
        long settleEnd = System.nanoTime() + SETTLE.toNanos();
        while (!watchers.last().containsKey(index)
            && System.nanoTime() < settleEnd
            && watchers.isAlive()) {
          Thread.sleep(1);
        }
        if (i == ISOLATED_WARMUP - 1) {
          start = System.nanoTime();
          end = start + driver.duration().toNanos();
        }
      }
      isolatedCount = i;
      isolatedNanos = System.nanoTime() - start;

      int planned =
          (int)
                  Math.ceil(
                      (driver.warmup().toSeconds() + driver.duration().toSeconds()) * WRITE_RATE)
              + 1;
      Writes open = new Writes(isolatedCount, planned);
      puts =
          Bench.progress(
              driver.open(
                  "watch fan-out put (writer, to the leader)",
                  WRITE_RATE,
                  j -> put(writer, isolatedCount + j, open, j)));
      paced = open;
      long settleEnd = System.nanoTime() + SETTLE.toNanos();
      while (watchers.last().size() < isolatedCount + open.acknowledged()
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
    System.err.println("bench: heap of " + member + " after watchers: " + after.describe());

    double isolatedSeconds = isolatedNanos / 1e9;
    Fanout one = Fanout.of(isolated, ISOLATED_WARMUP, isolatedCount, last);
    String oneLoad = load + ", one write at a time";
    results.add(
        Bench.progress(one.result("put sent → first watcher", oneLoad, 1, isolatedSeconds)));
    results.add(Bench.progress(one.result("put sent → last watcher", oneLoad, 2, isolatedSeconds)));
    results.add(
        Bench.progress(one.result("put acknowledged → last watcher", oneLoad, 3, isolatedSeconds)));
    results.add(puts);
    int firstMeasured = (int) Math.ceil(driver.warmup().toSeconds() * WRITE_RATE);
    Fanout rate = Fanout.of(paced, firstMeasured, paced.sent().length, last);
    String rateLoad = String.format(Locale.ROOT, "%s, writes at %.0f/s", load, WRITE_RATE);
    double seconds = driver.duration().toNanos() / 1e9;
    results.add(Bench.progress(rate.result("put sent → last watcher", rateLoad, 2, seconds)));
    results.add(
        Bench.progress(rate.result("put acknowledged → last watcher", rateLoad, 3, seconds)));

    notes.add(
        String.format(
            Locale.ROOT,
            "Watch fan-out on %s (pid %d; leader %s, the writer's target): %s (READY line: `%s`;"
                + " the last number is the watcher process's established TCP connections to the"
                + " node, from /proc). Used heap of %s after a full GC (`jcmd GC.run`, then"
                + " `GC.heap_info`): without watchers %s; with %,d watchers %s; after the watcher"
                + " process exited %s. **Heap per watcher: %.0f bytes** ((with - without) / %,d)."
                + " One write at a time: %d writes (%d measured). At 5/s: the last watcher's event"
                + " came before the put's acknowledgement reached the writer in %d of %d measured"
                + " writes (counted as 0 µs). Watcher process: %s; writes not seen by every watcher"
                + " when it stopped (write index: watchers that saw it): %s; its error lines: %s.%n",
            member,
            pid,
            leader,
            load,
            readyLine,
            member,
            without.describe(),
            watchers(),
            with.describe(),
            after.describe(),
            (with.usedBytes() - without.usedBytes()) / (double) watchers(),
            watchers(),
            isolatedCount,
            one.measured,
            rate.ackAfterLast,
            rate.measured,
            stats == null ? "no STATS line" : stats,
            partial.isEmpty() ? "none" : abbreviate(partial.toString()),
            watcherErrors.isEmpty() ? "none" : "`" + String.join("`; `", watcherErrors) + "`"));
  }

  /** Puts write {@code index} with the send time as its value; records send and ack in slot. */
  private static CompletableFuture<PutResponse> put(
      Endpoints writer, int index, Writes writes, int slot) {
    if (slot >= writes.sent().length) {
      throw new IllegalStateException("write " + index + " beyond the plan");
    }
    long now = WatchFanout.nowMicros();
    writes.sent()[slot] = now;
    PutRequest put =
        PutRequest.newBuilder()
            .setKey(PREFIX + "k" + index)
            .setValue(ByteString.copyFromUtf8(Long.toString(now)))
            .build();
    return Endpoints.call(writer.next().kv()::put, put)
        .whenComplete(
            (r, e) -> {
              if (e == null) {
                writes.acked()[slot] = WatchFanout.nowMicros();
              }
            });
  }

  /** Fan-out latencies of the acknowledged writes of one phase. */
  private static final class Fanout {
    final Histogram fromSendToFirst = new Histogram(LoadDriver.HIGHEST_US, 3);
    final Histogram fromSendToLast = new Histogram(LoadDriver.HIGHEST_US, 3);
    final Histogram fromAckToLast = new Histogram(LoadDriver.HIGHEST_US, 3);
    long measured;
    long missing;
    long ackAfterLast;

    /** Slots {@code from..to-1} of {@code writes}; {@code last}: index to {send, first, last}. */
    static Fanout of(Writes writes, int from, int to, Map<Integer, long[]> last) {
      Fanout f = new Fanout();
      for (int slot = from; slot < to; slot++) {
        long acked = writes.acked()[slot];
        if (acked == 0) {
          continue; // The put failed: counted in the writer's row.
        }
        f.measured++;
        long[] l = last.get(writes.firstIndex() + slot);
        if (l == null) {
          f.missing++;
          continue;
        }
        long sent = writes.sent()[slot];
        f.fromSendToFirst.recordValue(clamp(l[1] - sent));
        f.fromSendToLast.recordValue(clamp(l[2] - sent));
        if (l[2] < acked) {
          f.ackAfterLast++;
        }
        f.fromAckToLast.recordValue(clamp(l[2] - acked));
      }
      return f;
    }

    /** {@code which}: 1 send to first watcher, 2 send to last, 3 acknowledgement to last. */
    Result result(String what, String load, int which, double seconds) {
      Histogram h = which == 1 ? fromSendToFirst : which == 2 ? fromSendToLast : fromAckToLast;
      return Result.of(
          "watch fan-out: " + what,
          load,
          h,
          seconds,
          missing,
          missing == 0
              ? null
              : missing
                  + " of "
                  + measured
                  + " writes not seen by every watcher within "
                  + SETTLE.toSeconds()
                  + " s");
    }
  }

  private static long clamp(long micros) {
    return Math.max(1, Math.min(LoadDriver.HIGHEST_US, micros));
  }

  private static String abbreviate(String s) {
    return s.length() > 600 ? s.substring(0, 600) + "...}" : s;
  }

  /** What the configuration section says about this workload at {@code scale}. */
  static String describe(double scale) {
    int connections = connections(scale);
    return String.format(
        Locale.ROOT,
        "%,d watchers (%d connections x %d prefix watches on %s) in a separate JVM (`%s`) on one"
            + " follower; writes through the leader, one at a time and then at %.0f/s",
        connections * WATCHES_PER_CONNECTION,
        connections,
        WATCHES_PER_CONNECTION,
        PREFIX,
        WatcherProcess.JVM_OPTIONS,
        WRITE_RATE);
  }
}
