package io.meridian.router;

import com.github.benmanes.caffeine.cache.Ticker;
import io.meridian.api.v1.ResponseHeader;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * How far each shard's primary has got, as this router saw it: the revisions its answers carried,
 * when each was first seen, and when the primary was last heard from at all. From that, how stale
 * an answer served at some revision may be: how many revisions the primary had reached beyond it,
 * and for how long the primary may have been beyond it: since it was first seen beyond it, or, for
 * an answer at the newest revision seen, since the primary was last heard from (it may have moved
 * on since). So staleness keeps growing while the primary cannot be reached, and a namespace's
 * limit refuses a standby's answer once the primary has been silent for longer.
 *
 * <p>The router hears from the primary in every answer the primary region gives (writes included)
 * and in a probe of each shard's primary every {@code reads.probe-interval-ms}, so while the
 * primary is reachable the figures are as old as that interval at most. A shard not heard from
 * since this router started counts as silent since then.
 */
final class PrimaryProgress {
  /** How stale an answer is: revisions behind the primary and milliseconds since it passed it. */
  record Lag(long revisions, long millis) {
    static final Lag NONE = new Lag(0, 0);

    /** The lag an answer's header is marked with. */
    static Lag of(ResponseHeader header) {
      return new Lag(header.getLagRevisions(), header.getLagMs());
    }

    boolean exceeds(long maxRevisions, long maxMillis) {
      return revisions > maxRevisions || millis > maxMillis;
    }
  }

  /** Samples kept per shard: enough for minutes of history at one new revision per probe. */
  private static final int SAMPLES = 1024;

  private final Ticker ticker;
  private final long startNanos;
  private final Map<Integer, Samples> byShard = new ConcurrentHashMap<>();

  PrimaryProgress(Ticker ticker) {
    this.ticker = ticker;
    this.startNanos = ticker.read();
  }

  /** The primary of {@code shard} answered at {@code revision} (0 for an empty shard) now. */
  void observe(int shard, long revision) {
    byShard.computeIfAbsent(shard, s -> new Samples(startNanos)).add(revision, ticker.read());
  }

  /** The highest revision seen from the primary of {@code shard}, 0 if none yet. */
  long latest(int shard) {
    Samples s = byShard.get(shard);
    return s == null ? 0 : s.latest();
  }

  /** How stale an answer of {@code shard} at {@code revision} is. */
  Lag lag(int shard, long revision) {
    Samples s = byShard.get(shard);
    long now = ticker.read();
    return s == null
        ? new Lag(0, TimeUnit.NANOSECONDS.toMillis(now - startNanos))
        : s.lag(revision, now);
  }

  /** A ring of (revision, first seen) with strictly increasing revisions. */
  private static final class Samples {
    private final long[] revisions = new long[SAMPLES];
    private final long[] seenNanos = new long[SAMPLES];
    private int start;
    private int size;
    private long heardNanos;

    Samples(long heardNanos) {
      this.heardNanos = heardNanos;
    }

    synchronized void add(long revision, long nanos) {
      heardNanos = Math.max(heardNanos, nanos);
      if (revision <= 0 || (size > 0 && revision <= revisions[index(size - 1)])) {
        return;
      }
      if (size == SAMPLES) {
        start = (start + 1) % SAMPLES;
        size--;
      }
      revisions[index(size)] = revision;
      seenNanos[index(size)] = nanos;
      size++;
    }

    synchronized long latest() {
      return size == 0 ? 0 : revisions[index(size - 1)];
    }

    synchronized Lag lag(long revision, long nowNanos) {
      if (size == 0 || revision >= revisions[index(size - 1)]) {
        // As new as anything seen: stale by as long as the primary has been silent.
        return new Lag(0, Math.max(0, TimeUnit.NANOSECONDS.toMillis(nowNanos - heardNanos)));
      }
      // The first sample beyond `revision`: the primary had passed it since at least then.
      int lo = 0;
      int hi = size - 1;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (revisions[index(mid)] > revision) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      long behind = revisions[index(size - 1)] - revision;
      long millis = TimeUnit.NANOSECONDS.toMillis(nowNanos - seenNanos[index(lo)]);
      return new Lag(behind, Math.max(0, millis));
    }

    private int index(int i) {
      return (start + i) % SAMPLES;
    }
  }
}
