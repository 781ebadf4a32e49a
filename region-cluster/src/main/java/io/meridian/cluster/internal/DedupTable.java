package io.meridian.cluster.internal;

import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.DedupEntry;
import java.util.Collection;
import org.pcollections.OrderedPMap;

/**
 * The first outcomes of recently applied requests, by request id, so a retried request (also one
 * retried across a leader change) applies once. Holds at most {@code capacity} ids, evicting the
 * oldest first, and forgets ids applied more than {@link #RETENTION_MS} before the current command
 * (time is the commands' {@code now_ms}). The remembered outcomes are state like any other: their
 * bytes count toward the shard's quota ({@link #bytes()}). Not thread-safe.
 */
public final class DedupTable {
  public static final long RETENTION_MS = 10 * 60 * 1000;

  private int capacity;
  private long bytes;
  // Persistent, in application order, so a snapshot writer gets them frozen in O(1) (entries()).
  private OrderedPMap<String, DedupEntry> entries = OrderedPMap.empty();

  public DedupTable(int capacity) {
    setCapacity(capacity);
  }

  /** Changes how many ids are remembered, forgetting the oldest beyond it. */
  public void setCapacity(int capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("dedupCapacity: " + capacity + " (expected: >= 0)");
    }
    this.capacity = capacity;
    evictBeyondCapacity();
  }

  /** The serialized size of every remembered entry. */
  public long bytes() {
    return bytes;
  }

  /** The remembered result of {@code requestId}, or null if unknown or expired at {@code nowMs}. */
  public CommandResult find(String requestId, long nowMs) {
    DedupEntry entry = entries.get(requestId);
    return entry == null || expired(entry, nowMs) ? null : entry.getResult();
  }

  /** Forgets expired ids, then remembers {@code requestId} (if non-empty). */
  public void remember(String requestId, long nowMs, CommandResult result) {
    expire(nowMs);
    if (requestId.isEmpty() || capacity == 0) {
      return;
    }
    forget(entries.get(requestId));
    entries = entries.minus(requestId);
    DedupEntry entry =
        DedupEntry.newBuilder()
            .setRequestId(requestId)
            .setAppliedMs(nowMs)
            .setResult(result)
            .build();
    entries = entries.plus(requestId, entry);
    bytes += entry.getSerializedSize();
    evictBeyondCapacity();
  }

  private void evictBeyondCapacity() {
    while (entries.size() > capacity) {
      DedupEntry oldest = entries.values().iterator().next();
      forget(oldest);
      entries = entries.minus(oldest.getRequestId());
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
    while (!entries.isEmpty()) {
      DedupEntry entry = entries.values().iterator().next();
      if (!expired(entry, nowMs)) {
        break;
      }
      forget(entry);
      entries = entries.minus(entry.getRequestId());
    }
  }

  private static boolean expired(DedupEntry entry, long nowMs) {
    return entry.getAppliedMs() < nowMs - RETENTION_MS;
  }

  /** Restores an entry from a snapshot (in FIFO order). */
  public void load(DedupEntry entry) {
    forget(entries.get(entry.getRequestId()));
    entries = entries.minus(entry.getRequestId()).plus(entry.getRequestId(), entry);
    bytes += entry.getSerializedSize();
  }

  /** Entries oldest first, as of now: unchanged by later applies, safe to read from any thread. */
  public Collection<DedupEntry> entries() {
    return entries.values();
  }

  public int size() {
    return entries.size();
  }
}
