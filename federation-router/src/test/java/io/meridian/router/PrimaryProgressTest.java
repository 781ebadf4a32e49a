package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ResponseHeader;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PrimaryProgressTest {
  @Test
  void lagIsRevisionsBehindAndTimeSinceThePrimaryPassedTheRevision() {
    AtomicLong now = new AtomicLong();
    PrimaryProgress p = new PrimaryProgress(now::get);
    assertThat(p.lag(0, 5)).isEqualTo(PrimaryProgress.Lag.NONE);
    p.observe(0, 10);
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(300));
    p.observe(0, 20);
    p.observe(0, 15); // older news changes nothing
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(200));
    assertThat(p.latest(0)).isEqualTo(20);
    // Revision 12: the primary was first seen beyond it (at 20) 200 ms ago.
    assertThat(p.lag(0, 12)).isEqualTo(new PrimaryProgress.Lag(8, 200));
    // Revision 5: beyond it since the first sample (10), 500 ms ago.
    assertThat(p.lag(0, 5)).isEqualTo(new PrimaryProgress.Lag(15, 500));
    // At the newest revision: stale by as long as the primary has been silent (last heard 200 ms
    // ago, when it answered at 15); a shard never heard from, since the router started.
    assertThat(p.lag(0, 20)).isEqualTo(new PrimaryProgress.Lag(0, 200));
    assertThat(p.lag(1, 0)).isEqualTo(new PrimaryProgress.Lag(0, 500));
    assertThat(p.lag(0, 12).exceeds(10, 1000)).isFalse();
    assertThat(p.lag(0, 12).exceeds(7, 1000)).isTrue();
    assertThat(p.lag(0, 12).exceeds(10, 199)).isTrue();
  }

  /**
   * The primary cannot be reached: an answer at the last revision seen is not "current" forever.
   * Its staleness grows with the silence, so a namespace's limit refuses it in time.
   */
  @Test
  void stalenessGrowsWhileThePrimaryIsSilent() {
    AtomicLong now = new AtomicLong();
    PrimaryProgress p = new PrimaryProgress(now::get);
    p.observe(0, 20);
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(900));
    p.observe(0, 20); // a probe: same revision, but heard from
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(100));
    assertThat(p.lag(0, 20)).isEqualTo(new PrimaryProgress.Lag(0, 100));
    assertThat(p.lag(0, 20).exceeds(1000, 5000)).isFalse();
    // Then silence (a partition): ten seconds later the same answer is ten seconds stale.
    now.addAndGet(TimeUnit.SECONDS.toNanos(10));
    assertThat(p.lag(0, 20)).isEqualTo(new PrimaryProgress.Lag(0, 10_100));
    assertThat(p.lag(0, 20).exceeds(1000, 5000)).isTrue();
    // A shard whose primary answered with revision 0 (empty) was still heard from.
    p.observe(1, 0);
    assertThat(p.lag(1, 0)).isEqualTo(PrimaryProgress.Lag.NONE);
  }

  @Test
  void aGatheredRangeIsMergedInKeyOrderWithinTheLimit() {
    RangeRequest req =
        RangeRequest.newBuilder().setKey("/").setRangeEnd("\u0000").setLimit(3).build();
    RangeResponse shard0 = part(0, 7, 2, "/b/1", "/d/1");
    RangeResponse shard1 = part(1, 9, 2, "/a/1", "/c/1");
    RangeResponse merged = RoutedKv.merge(req, List.of(shard0, shard1));
    assertThat(merged.getKvsList())
        .extracting(KeyValue::getKey)
        .containsExactly("/a/1", "/b/1", "/c/1");
    assertThat(merged.getMore()).isTrue();
    assertThat(merged.getCount()).isEqualTo(4);
    assertThat(merged.getHeader().getShardRevisionsMap()).containsEntry(0, 7L).containsEntry(1, 9L);
  }

  private static RangeResponse part(int shard, long revision, long count, String... keys) {
    RangeResponse.Builder b =
        RangeResponse.newBuilder()
            .setHeader(ResponseHeader.newBuilder().setShard(shard).setRevision(revision))
            .setCount(count);
    for (String k : keys) {
      b.addKvs(KeyValue.newBuilder().setKey(k));
    }
    return b.build();
  }
}
