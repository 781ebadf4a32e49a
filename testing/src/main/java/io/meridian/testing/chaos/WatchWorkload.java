package io.meridian.testing.chaos;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchProgressRequest;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Writers putting and deleting a few keys under {@code /watch/} through every member, and watchers
 * of that prefix, each moving between members: a stream lasts a few seconds, or less when its
 * member stops answering (killed, paused, cut off), and the next one resumes at the revision after
 * the last one reached. What every stream delivered is checked by {@link WatchCompleteness}, and so
 * is every stream that fell silent: only a fault may silence one.
 */
public final class WatchWorkload implements Workload {
  static final String PREFIX = "/watch/";
  private static final long SILENT_NANOS = TimeUnit.SECONDS.toNanos(3);
  private static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(1);
  // After a fault is healed, how long a member may take to answer again: a resumed or reconnected
  // member catches up with the leader first; a restarted one starts, replays its log and catches
  // up.
  private static final Duration AFTERMATH = Duration.ofSeconds(5);
  private static final Duration RESTARTED = Duration.ofSeconds(30);
  private static final Object ENDED = new Object();

  private final ProcessRegion nodes;
  private final long seed;
  private final int writers;
  private final int watchers;
  private final Clients writing = new Clients("watch-writer");
  private final Clients watching = new Clients("watcher");
  private final List<WatchCompleteness.Change> acknowledged = new CopyOnWriteArrayList<>();
  private final List<Long> acknowledgedInvoked = new CopyOnWriteArrayList<>();
  private final List<List<WatchCompleteness.Stream>> streams = new ArrayList<>();
  private final List<WatchCompleteness.Silence> silences = new CopyOnWriteArrayList<>();
  private final AtomicLongArray reached;
  // Where the server said a watcher's history now starts (COMPACTED), 0 if it never said.
  private final AtomicLongArray compacted;

  /**
   * {@code writers} writers and {@code watchers} watchers, their choices seeded from {@code seed}.
   */
  public WatchWorkload(ProcessRegion nodes, long seed, int writers, int watchers) {
    this.nodes = nodes;
    this.seed = seed;
    this.writers = writers;
    this.watchers = watchers;
    this.reached = new AtomicLongArray(watchers);
    this.compacted = new AtomicLongArray(watchers);
    for (int w = 0; w < watchers; w++) {
      streams.add(new CopyOnWriteArrayList<>());
    }
  }

  @Override
  public String name() {
    return "watch";
  }

  @Override
  public void start() {
    watching.start(watchers, this::watch);
    writing.start(writers, this::write);
  }

  @Override
  public void stop() throws InterruptedException {
    writing.stop();
    watching.stop();
  }

  /**
   * Whether a write sent after {@code nanos} was acknowledged and every watcher has since reached
   * its revision: the healed region serves both writers and watchers.
   */
  @Override
  public boolean servedSince(long nanos) {
    long revision = Long.MAX_VALUE;
    for (int i = 0; i < acknowledged.size(); i++) {
      if (acknowledgedInvoked.get(i) > nanos) {
        revision = Math.min(revision, acknowledged.get(i).revision());
      }
    }
    if (revision == Long.MAX_VALUE) {
      return false;
    }
    for (int w = 0; w < watchers; w++) {
      if (reached.get(w) < revision) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int operations() {
    int delivered = 0;
    for (List<WatchCompleteness.Stream> s : streams) {
      for (WatchCompleteness.Stream stream : s) {
        delivered += stream.changes().size();
      }
    }
    return acknowledged.size() + delivered;
  }

  public List<WatchCompleteness.Watcher> watchers() {
    List<WatchCompleteness.Watcher> all = new ArrayList<>();
    for (int w = 0; w < watchers; w++) {
      all.add(new WatchCompleteness.Watcher("watcher " + w, streams.get(w)));
    }
    return all;
  }

  @Override
  public List<Verdict> check(ChaosRegion region, Nemesis nemesis) {
    long last = acknowledged.stream().mapToLong(WatchCompleteness.Change::revision).max().orElse(0);
    // The healed leader's store is the reference: wait until it has applied the last write.
    await()
        .atMost(Duration.ofSeconds(120))
        .ignoreExceptions()
        .until(() -> revisionOf(0, Consistency.LINEARIZABLE) >= last);
    return List.of(
        WatchCompleteness.check(
            watchers(), List.copyOf(acknowledged), Durability.Store.of(nodes.kv(0))),
        WatchCompleteness.liveness(
            List.copyOf(silences),
            (from, to) -> nemesis.disturbed(from, to, AFTERMATH, RESTARTED)));
  }

  @Override
  public void write(Path dir) throws IOException {
    Files.write(
        dir.resolve("acknowledged.txt"), acknowledged.stream().map(Object::toString).toList());
    List<String> lines = new ArrayList<>();
    for (WatchCompleteness.Watcher w : watchers()) {
      for (WatchCompleteness.Stream s : w.streams()) {
        lines.add(
            w.name()
                + " on "
                + s.member()
                + " from r"
                + s.start()
                + " reached r"
                + s.reached()
                + (s.ended() == null ? "" : " ended " + s.ended()));
        s.changes().forEach(c -> lines.add("  " + c));
      }
    }
    Files.write(dir.resolve("streams.txt"), lines);
    Files.write(dir.resolve("silences.txt"), silences.stream().map(Object::toString).toList());
  }

  private long revisionOf(int member, Consistency consistency) {
    return nodes
        .kv(member)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .range(
            RangeRequest.newBuilder()
                .setKey(PREFIX)
                .setCountOnly(true)
                .setConsistency(consistency)
                .build())
        .getHeader()
        .getRevision();
  }

  private void write(int writer) {
    Random random = new Random(seed * 13 + writer);
    int sequence = 0;
    while (!writing.stopped()) {
      String key = PREFIX + "k" + random.nextInt(4);
      int member = random.nextInt(nodes.size());
      long invoked = System.nanoTime();
      try {
        if (random.nextInt(10) == 0) {
          DeleteRangeResponse r =
              nodes
                  .kv(member)
                  .withDeadlineAfter(2, TimeUnit.SECONDS)
                  .deleteRange(DeleteRangeRequest.newBuilder().setKey(key).build());
          if (r.getDeleted() > 0) {
            acknowledge(
                new WatchCompleteness.Change(r.getHeader().getRevision(), key, null), invoked);
          }
        } else {
          String value = "w" + writer + "-" + sequence++;
          long revision =
              nodes
                  .kv(member)
                  .withDeadlineAfter(2, TimeUnit.SECONDS)
                  .put(
                      PutRequest.newBuilder()
                          .setKey(key)
                          .setValue(ByteString.copyFromUtf8(value))
                          .build())
                  .getHeader()
                  .getRevision();
          acknowledge(new WatchCompleteness.Change(revision, key, value), invoked);
        }
      } catch (StatusRuntimeException e) {
        // Applied or not, the watchers and the store say which.
      }
      writing.pause(20 + random.nextInt(40));
    }
  }

  private synchronized void acknowledge(WatchCompleteness.Change change, long invoked) {
    acknowledgedInvoked.add(invoked);
    acknowledged.add(change);
  }

  private void watch(int watcher) {
    Random random = new Random(seed * 7 + watcher);
    long next = 1;
    while (!watching.stopped()) {
      int member = random.nextInt(nodes.size());
      long lifetime = TimeUnit.MILLISECONDS.toNanos(2000 + random.nextInt(4000));
      long opened = System.nanoTime();
      WatchCompleteness.Stream s = stream(watcher, member, next, lifetime);
      streams.get(watcher).add(s);
      if (System.nanoTime() - opened < TimeUnit.MILLISECONDS.toNanos(100)) {
        watching.pause(100); // refused at once: the member is down; do not spin on it
      }
      long delivered =
          s.changes().isEmpty() ? 0 : s.changes().get(s.changes().size() - 1).revision();
      next = Math.max(next, Math.max(s.reached(), delivered) + 1);
      next = Math.max(next, compacted.get(watcher) + 1);
    }
  }

  /** One watch stream on {@code member} from {@code start}, until it ends, goes silent or ages. */
  private WatchCompleteness.Stream stream(int watcher, int member, long start, long lifetime) {
    BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    StreamObserver<WatchRequest> requests =
        nodes
            .watch(member)
            .watch(
                new StreamObserver<>() {
                  @Override
                  public void onNext(WatchResponse r) {
                    inbox.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    inbox.add(t);
                  }

                  @Override
                  public void onCompleted() {
                    inbox.add(ENDED);
                  }
                });
    List<WatchCompleteness.Change> changes = new ArrayList<>();
    long streamReached = start - 1;
    String ended = null;
    long opened = System.nanoTime();
    long heard = opened;
    long asked = opened;
    try {
      requests.onNext(
          WatchRequest.newBuilder()
              .setCreateRequest(
                  WatchCreateRequest.newBuilder()
                      .setKey(PREFIX)
                      .setPrefix(true)
                      .setStartRevision(start)
                      .setProgressNotify(true)
                      .setWatchId(1))
              .build());
      while (!watching.stopped() && System.nanoTime() - opened < lifetime) {
        Object m = inbox.poll(100, TimeUnit.MILLISECONDS);
        long now = System.nanoTime();
        if (m == null) {
          if (now - heard > SILENT_NANOS) {
            // Paused or cut off (the liveness check holds it to that): move on.
            silences.add(
                new WatchCompleteness.Silence(
                    "watcher " + watcher, "n" + (member + 1), heard, now));
            break;
          }
          if (now - asked > PROGRESS_NANOS) {
            requests.onNext(
                WatchRequest.newBuilder()
                    .setProgressRequest(WatchProgressRequest.getDefaultInstance())
                    .build());
            asked = now;
          }
          continue;
        }
        heard = now;
        if (!(m instanceof WatchResponse r)) {
          break; // the stream broke (or ended) without the server saying why: resume after it
        }
        for (Event e : r.getEventsList()) {
          changes.add(
              new WatchCompleteness.Change(
                  e.getKv().getModRevision(),
                  e.getKv().getKey(),
                  e.getType() == Event.EventType.DELETE
                      ? null
                      : e.getKv().getValue().toStringUtf8()));
        }
        if (r.getEventsCount() > 0 || r.getProgress()) {
          streamReached = Math.max(streamReached, r.getHeader().getRevision());
          reached.accumulateAndGet(watcher, streamReached, Math::max);
        }
        if (r.getCanceled()) {
          ended = r.hasError() ? r.getError().getCode().name() : "CANCELED";
          compacted.accumulateAndGet(watcher, r.getCompactRevision(), Math::max);
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        requests.onError(Status.CANCELLED.withDescription("moving on").asRuntimeException());
      } catch (RuntimeException e) {
        // Already ended.
      }
    }
    return new WatchCompleteness.Stream("n" + (member + 1), start, changes, streamReached, ended);
  }
}
