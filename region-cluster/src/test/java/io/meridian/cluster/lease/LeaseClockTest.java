package io.meridian.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The leader's lease deadlines, on an injected monotonic clock. */
class LeaseClockTest {
  private static final long ELECTION_TIMEOUT_MS = 600;

  private final AtomicLong now = new AtomicLong(1_000);
  private final LeaseClock clock = new LeaseClock(ELECTION_TIMEOUT_MS, now::get);

  private static LeaseView lease(long id, long ttlMs, long remainingMs) {
    return new LeaseView(id, "a", ttlMs, remainingMs, 1, List.of());
  }

  @Test
  void aNewTermTakesOverEveryLeaseWithItsRemainderOrTtlPlusTheElectionTimeout() {
    clock.lead(3);
    assertThat(clock.ready()).isFalse();
    assertThat(clock.start(3, List.of(lease(1, 10_000, 0), lease(2, 10_000, 2_500)))).isTrue();
    assertThat(clock.ready()).isTrue();
    assertThat(clock.term()).isEqualTo(3);
    assertThat(clock.remaining(1)).hasValue(10_000 + ELECTION_TIMEOUT_MS);
    assertThat(clock.remaining(2)).hasValue(2_500 + ELECTION_TIMEOUT_MS);
    assertThat(clock.remaining(9)).isEmpty();
  }

  @Test
  void aStartForAnotherTermOrAfterLosingLeadershipChangesNothing() {
    clock.lead(3);
    assertThat(clock.start(2, List.of(lease(1, 10_000, 0)))).isFalse();
    assertThat(clock.ready()).isFalse();
    // Leadership lost before the term's LeaderStart was applied: the apply thread's start is
    // refused, so a follower never keeps deadlines (or expires leases).
    clock.follow();
    assertThat(clock.start(3, List.of(lease(1, 10_000, 0)))).isFalse();
    assertThat(clock.ready()).isFalse();
    assertThat(clock.term()).isEqualTo(-1);
    assertThat(clock.size()).isZero();
    clock.granted(5, 10_000);
    assertThat(clock.size()).isZero();
  }

  @Test
  void aRenewalAfterTheDeadlineIsRefusedUnlessTheLeaseIsKeptOnPurpose() {
    clock.lead(1);
    clock.start(1, List.of());
    clock.granted(1, 5_000);
    now.addAndGet(4_999);
    assertThat(clock.renew(1, false)).hasValue(5_000);
    assertThat(clock.remaining(1)).hasValue(5_000);
    now.addAndGet(5_000);
    assertThat(clock.expired()).containsExactly(1L);
    assertThat(clock.remaining(1)).hasValue(0);
    // The expiry may already be proposed: a late keep-alive must not be told TTL 5.
    assertThat(clock.renew(1, false)).isEmpty();
    // Self-preservation keeps it on purpose; then the renewal counts.
    assertThat(clock.renew(1, true)).hasValue(5_000);
    assertThat(clock.expired()).isEmpty();
    assertThat(clock.renew(2, true)).isEmpty();
    clock.ended(1);
    assertThat(clock.renew(1, true)).isEmpty();
  }

  @Test
  void deadlinesFollowTheMonotonicClockOnly() {
    // The clock is handed only monotonic time; the wall clock is not an input at all. Two steps
    // of it in either direction are thus no events here, and a lease runs out exactly TTL after
    // its last renewal in monotonic time.
    clock.lead(1);
    clock.start(1, List.of());
    clock.granted(1, 5_000);
    now.addAndGet(3_000);
    clock.renew(1, false);
    now.addAndGet(4_999);
    assertThat(clock.expired()).isEmpty();
    now.addAndGet(1);
    assertThat(clock.expired()).containsExactly(1L);
  }

  @Test
  void aPromotionGivesEveryLeaseItsFullTtlFromNow() {
    clock.extendAll(List.of(lease(1, 10_000, 0)));
    assertThat(clock.size()).as("not leading: nothing to extend").isZero();
    clock.lead(4);
    clock.start(4, List.of(lease(1, 10_000, 1_000), lease(2, 30_000, 0)));
    now.addAndGet(1_700);
    assertThat(clock.expired()).containsExactly(1L);
    clock.extendAll(List.of(lease(1, 10_000, 1_000), lease(2, 30_000, 0)));
    assertThat(clock.expired()).isEmpty();
    assertThat(clock.remaining(1)).hasValue(10_000);
    assertThat(clock.remaining(2)).hasValue(30_000);
    assertThat(clock.remainingAll()).containsEntry(1L, 10_000L).containsEntry(2L, 30_000L);
  }
}
