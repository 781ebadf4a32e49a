package io.meridian.cluster.watch;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.WatchResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One client stream carrying many watches. Hub dispatchers {@link #offer} responses from their own
 * threads; a drain on the sink's executor sends them while the transport is ready. The queue is
 * bounded in bytes: a stream that falls {@code maxPendingBytes} behind is cut off with {@code
 * SLOW_CONSUMER}, so a stuck reader never grows the node's memory. The client resumes from the last
 * revision it saw.
 */
public final class WatchStream {
  private final WatchSink sink;
  private final long maxPendingBytes;
  private final Queue<WatchResponse> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong pendingBytes = new AtomicLong();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Map<Long, Registration> watches = new ConcurrentHashMap<>();
  private final AtomicLong nextId = new AtomicLong(1);
  private final Runnable onSlowConsumer;

  /** A watch of this stream and the hub that serves it. */
  record Registration(Watch watch, WatchHub hub) {}

  /**
   * @param maxPendingBytes responses queued beyond this are not kept: the stream is cut off
   * @param onSlowConsumer counts cut-offs (metrics)
   */
  public WatchStream(WatchSink sink, long maxPendingBytes, Runnable onSlowConsumer) {
    this.sink = sink;
    this.maxPendingBytes = maxPendingBytes;
    this.onSlowConsumer = onSlowConsumer;
    // Through the executor, never directly: a transport may call its ready handler from inside
    // send(), and a direct drain would then recurse once per queued response.
    sink.onReady(this::scheduleDrain);
  }

  /**
   * Reserves a watch id: {@code requested} if non-zero and unused, else the next free one.
   *
   * @throws MeridianException INVALID_ARGUMENT if {@code requested} is in use or negative
   */
  long reserveId(long requested) {
    if (requested < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "watch_id: %d (expected: >= 0)", requested);
    }
    if (requested != 0) {
      if (watches.containsKey(requested)) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT, "watch_id: %d (already used on this stream)", requested);
      }
      return requested;
    }
    long id;
    do {
      id = nextId.getAndIncrement();
    } while (watches.containsKey(id));
    return id;
  }

  void register(Watch watch, WatchHub hub) {
    watches.put(watch.id, new Registration(watch, hub));
  }

  /** Frees the id of {@code watch}, and only of that watch (the id may have been reused since). */
  void unregister(Watch watch) {
    watches.computeIfPresent(watch.id, (id, r) -> r.watch() == watch ? null : r);
  }

  /** The watch with {@code id}, if it is live on this stream. */
  Registration registration(long id) {
    return watches.get(id);
  }

  List<Registration> registrations() {
    return new ArrayList<>(watches.values());
  }

  /** Whether the queue is at most half full: a replaying watch may add another chunk. */
  boolean hasRoom() {
    return pendingBytes.get() <= maxPendingBytes / 2;
  }

  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Queues {@code response}; cuts the stream off when the queue would exceed its bound (a single
   * response larger than the bound still goes when nothing else is queued).
   *
   * @return false if the stream is closed or was cut off
   */
  boolean offer(WatchResponse response) {
    if (closed.get()) {
      return false;
    }
    long size = response.getSerializedSize();
    long before = pendingBytes.getAndAdd(size);
    if (before > 0 && before + size > maxPendingBytes) {
      cutOff();
      return false;
    }
    queue.add(response);
    scheduleDrain();
    return true;
  }

  private void scheduleDrain() {
    if (drainScheduled.compareAndSet(false, true)) {
      sink.executor().execute(this::drain);
    }
  }

  private void drain() {
    drainScheduled.set(false);
    while (!closed.get() && sink.isReady()) {
      WatchResponse r = queue.poll();
      if (r == null) {
        return;
      }
      pendingBytes.addAndGet(-r.getSerializedSize());
      sink.send(r);
    }
  }

  private void cutOff() {
    long pending = pendingBytes.get();
    if (!close()) {
      return;
    }
    onSlowConsumer.run();
    MeridianException error =
        MeridianException.of(
            Error.Code.SLOW_CONSUMER,
            "watch stream cut off: %d bytes of events were waiting to be read (limit %d); resume"
                + " each watch from the revision after the last one it received",
            pending,
            maxPendingBytes);
    sink.executor().execute(() -> sink.fail(error));
  }

  /**
   * Ends every watch of the stream (the client went away or was cut off) and drops what is queued.
   *
   * @return false if it was closed already
   */
  public boolean close() {
    if (!closed.compareAndSet(false, true)) {
      return false;
    }
    for (Registration r : registrations()) {
      r.hub().remove(r.watch());
    }
    watches.clear();
    queue.clear();
    pendingBytes.set(0);
    return true;
  }
}
