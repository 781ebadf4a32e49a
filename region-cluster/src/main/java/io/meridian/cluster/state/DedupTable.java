package io.meridian.cluster.state;

import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.DedupEntry;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The first outcomes of recently applied requests, by request id, so a retried request (also one
 * retried across a leader change) applies once. Holds at most {@code capacity} ids, evicting the
 * oldest first, and forgets ids applied more than {@link #RETENTION_MS} before the current command
 * (time is the commands' {@code now_ms}). The remembered outcomes are state like any other: their
 * bytes count toward the shard's quota ({@link #bytes()}). Not thread-safe.
 */
final class DedupTable {
  static final long RETENTION_MS = 10 * 60 * 1000;

  private int capacity;
  private long bytes;
  private final LinkedHashMap<String, DedupEntry> entries = new LinkedHashMap<>();

  DedupTable(int capacity) {
    setCapacity(capacity);
  }

  /** Changes how many ids are remembered, forgetting the oldest beyond it. */
  void setCapacity(int capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("dedupCapacity: " + capacity + " (expected: >= 0)");
    }
    this.capacity = capacity;
    evictBeyondCapacity();
  }

  /** The serialized size of every remembered entry. */
  long bytes() {
    return bytes;
  }

  /** The remembered result of {@code requestId}, or null if unknown or expired at {@code nowMs}. */
  CommandResult find(String requestId, long nowMs) {
    DedupEntry entry = entries.get(requestId);
    return entry == null || expired(entry, nowMs) ? null : entry.getResult();
  }

  /** Forgets expired ids, then remembers {@code requestId} (if non-empty). */
  void remember(String requestId, long nowMs, CommandResult result) {
    expire(nowMs);
    if (requestId.isEmpty() || capacity == 0) {
      return;
    }
    forget(entries.remove(requestId));
    DedupEntry entry =
        DedupEntry.newBuilder()
            .setRequestId(requestId)
            .setAppliedMs(nowMs)
            .setResult(result)
            .build();
    entries.put(requestId, entry);
    bytes += entry.getSerializedSize();
    evictBeyondCapacity();
  }

  private void evictBeyondCapacity() {
    Iterator<DedupEntry> oldest = entries.values().iterator();
    while (entries.size() > capacity) {
      forget(oldest.next());
      oldest.remove();
    }
  }

  private void forget(DedupEntry entry) {
    if (entry != null) {
      bytes -= entry.getSerializedSize();
    }
  }

  private void expire(long nowMs) {
    // Entries are in application order; now_ms is the leader's clock and normally grows, so the
    // scan stops at the first live entry (a rare older entry behind it is caught by find()).
    Iterator<DedupEntry> it = entries.values().iterator();
    while (it.hasNext()) {
      DedupEntry entry = it.next();
      if (!expired(entry, nowMs)) {
        break;
      }
      forget(entry);
      it.remove();
    }
  }

  private static boolean expired(DedupEntry entry, long nowMs) {
    return entry.getAppliedMs() < nowMs - RETENTION_MS;
  }

  /** Restores an entry from a snapshot (in FIFO order). */
  void load(DedupEntry entry) {
    forget(entries.put(entry.getRequestId(), entry));
    bytes += entry.getSerializedSize();
  }

  /** Entries oldest first. */
  List<DedupEntry> entries() {
    return new ArrayList<>(entries.values());
  }

  int size() {
    return entries.size();
  }
}
