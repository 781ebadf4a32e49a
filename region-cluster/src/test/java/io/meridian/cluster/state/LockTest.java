package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.FencingToken;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockOwner;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.proto.LockAcquireResult;
import io.meridian.cluster.proto.LockCancel;
import org.junit.jupiter.api.Test;

class LockTest {
  private final Shard s = Shard.primary();
  private final long deadline = s.now + 60_000;

  private LockAcquireResult acquired(ApplyResult r) {
    return s.ok(r).result().getLockAcquire();
  }

  private java.util.List<Long> holders(String name) {
    return s.state.inspectLock(name).getHoldersList().stream().map(LockOwner::getLease).toList();
  }

  private java.util.List<Long> waiters(String name) {
    return s.state.inspectLock(name).getWaitersList().stream().map(LockOwner::getLease).toList();
  }

  @Test
  void exclusiveLockIsFifoWithIncreasingTokens() {
    long a = s.grant("a");
    long b = s.grant("a");
    long c = s.grant("a");
    ApplyResult ra = s.acquire("/a/jobs/report", a, LockMode.EXCLUSIVE, 0);
    LockAcquireResult first = acquired(ra);
    assertThat(first.getGranted()).isTrue();
    assertThat(first.getResponse().getFencingToken()).isEqualTo(FencingToken.of(1, ra.revision()));
    assertThat(first.getResponse().getKey())
        .isEqualTo("/a/.meridian/locks/jobs/report/" + String.format("%016x", a));
    assertThat(s.get(first.getResponse().getKey()).getLease()).isEqualTo(a);
    LockAcquireResult second =
        acquired(s.acquire("/a/jobs/report", b, LockMode.EXCLUSIVE, deadline));
    assertThat(second.getGranted()).isFalse();
    assertThat(second.getResponse().getFencingToken()).isZero();
    acquired(s.acquire("/a/jobs/report", c, LockMode.EXCLUSIVE, deadline));
    assertThat(holders("/a/jobs/report")).containsExactly(a);
    assertThat(waiters("/a/jobs/report")).containsExactly(b, c);

    ApplyResult rel = s.ok(s.release("/a/jobs/report", a));
    long tokenB = FencingToken.of(1, rel.revision());
    assertThat(rel.lockEvents())
        .containsExactly(
            new LockEvent.Removed("/a/jobs/report", a, LockEvent.Reason.RELEASED, rel.revision()),
            new LockEvent.Granted(
                "/a/jobs/report", b, tokenB, LockTable.keyOf("/a/jobs/report", b), rel.revision()));
    assertThat(tokenB).isGreaterThan(first.getResponse().getFencingToken());
    LockOwner holder = s.state.inspectLock("/a/jobs/report").getHolders(0);
    assertThat(holder.getFencingToken()).isEqualTo(tokenB);
    assertThat(holder.getGrantRevision()).isEqualTo(rel.revision());
    assertThat(holder.getCreateRevision()).isLessThan(rel.revision());
    // Releasing a waiter (not the holder) withdraws it without granting anyone.
    ApplyResult withdraw = s.ok(s.release("/a/jobs/report", c));
    assertThat(withdraw.lockEvents()).hasSize(1);
    assertThat(holders("/a/jobs/report")).containsExactly(b);
    assertThat(code(s.release("/a/jobs/report", c))).isEqualTo(Error.Code.LOCK_NOT_HELD);
  }

  @Test
  void sharedHoldersCoexistUntilAnExclusiveWaiter() {
    long r1 = s.grant("a");
    long r2 = s.grant("a");
    long w = s.grant("a");
    long r3 = s.grant("a");
    assertThat(acquired(s.acquire("/a/db", r1, LockMode.SHARED, 0)).getGranted()).isTrue();
    assertThat(acquired(s.acquire("/a/db", r2, LockMode.SHARED, 0)).getGranted()).isTrue();
    assertThat(acquired(s.acquire("/a/db", w, LockMode.EXCLUSIVE, deadline)).getGranted())
        .isFalse();
    // A reader behind a waiting writer waits (no writer starvation).
    assertThat(acquired(s.acquire("/a/db", r3, LockMode.SHARED, deadline)).getGranted()).isFalse();
    assertThat(code(s.acquire("/a/db", s.grant("a"), LockMode.SHARED, 0)))
        .isEqualTo(Error.Code.LOCK_TIMEOUT);
    s.ok(s.release("/a/db", r1));
    assertThat(holders("/a/db")).containsExactly(r2);
    s.ok(s.release("/a/db", r2));
    assertThat(holders("/a/db")).containsExactly(w);
    s.ok(s.release("/a/db", w));
    assertThat(holders("/a/db")).containsExactly(r3);
  }

  @Test
  void hierarchicalAcquireNeedsTheParent() {
    long a = s.grant("a");
    long b = s.grant("a");
    assertThat(code(s.acquire("/a/x/y", a, LockMode.EXCLUSIVE, 0, true)))
        .isEqualTo(Error.Code.LOCK_PARENT_NOT_HELD);
    s.ok(s.acquire("/a/x", a, LockMode.EXCLUSIVE, 0, true)); // one segment: no parent
    s.ok(s.acquire("/a/x", b, LockMode.EXCLUSIVE, deadline, true));
    // b only waits for the parent: not enough.
    assertThat(code(s.acquire("/a/x/y", b, LockMode.EXCLUSIVE, 0, true)))
        .isEqualTo(Error.Code.LOCK_PARENT_NOT_HELD);
    assertThat(acquired(s.acquire("/a/x/y", a, LockMode.EXCLUSIVE, 0, true)).getGranted()).isTrue();
    assertThat(s.state.inspectLock("/a/x/y").getHolders(0).getHierarchical()).isTrue();
    // Not hierarchical: no parent needed.
    s.ok(s.acquire("/a/p/q", b, LockMode.EXCLUSIVE, 0, false));
  }

  @Test
  void retriedAcquireIsIdempotent() {
    long a = s.grant("a");
    long b = s.grant("a");
    ApplyResult first = s.ok(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0));
    byte[] hash = s.hash();
    ApplyResult again = s.ok(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0));
    assertThat(again.result().getLockAcquire().getResponse().getFencingToken())
        .isEqualTo(first.result().getLockAcquire().getResponse().getFencingToken());
    assertThat(again.result().getLockAcquire().getGranted()).isTrue();
    assertThat(again.revision()).isEqualTo(first.revision());
    assertThat(again.changes()).isEmpty();
    assertThat(s.hash()).isEqualTo(hash);
    s.ok(s.acquire("/a/l", b, LockMode.EXCLUSIVE, deadline));
    ApplyResult waitAgain = s.ok(s.acquire("/a/l", b, LockMode.EXCLUSIVE, deadline));
    assertThat(waitAgain.result().getLockAcquire().getGranted()).isFalse();
    assertThat(waitAgain.changes()).isEmpty();
    assertThat(waiters("/a/l")).containsExactly(b);
  }

  @Test
  void cancelRemovesOnlyWaitersAndPastDeadlinesAreListed() {
    long a = s.grant("a");
    long b = s.grant("a");
    long c = s.grant("a");
    s.ok(s.acquire("/a/l", a, LockMode.SHARED, 0));
    s.ok(s.acquire("/a/l", b, LockMode.EXCLUSIVE, s.now + 100));
    s.ok(s.acquire("/a/l", c, LockMode.SHARED, s.now + 500));
    assertThat(s.state.waitersPastDeadline(s.now + 99)).isEmpty();
    assertThat(s.state.waitersPastDeadline(s.now + 100))
        .containsExactly(LockCancel.Waiter.newBuilder().setName("/a/l").setLease(b).build());
    assertThat(s.state.waitersPastDeadline(s.now + 1000)).hasSize(2);
    long rev = s.state.revision();
    // Cancelling the holder does nothing.
    ApplyResult none = s.ok(s.cancel("/a/l", a));
    assertThat(none.revision()).isEqualTo(rev);
    assertThat(holders("/a/l")).containsExactly(a);
    // Cancelling the writer lets the reader behind it share the lock, at the same revision.
    ApplyResult r = s.ok(s.cancel("/a/l", b));
    assertThat(r.revision()).isEqualTo(rev + 1);
    assertThat(r.lockEvents())
        .containsExactly(
            new LockEvent.Removed("/a/l", b, LockEvent.Reason.CANCELLED, rev + 1),
            new LockEvent.Granted(
                "/a/l", c, FencingToken.of(1, rev + 1), LockTable.keyOf("/a/l", c), rev + 1));
    assertThat(holders("/a/l")).containsExactly(a, c);
  }

  @Test
  void revokingTheHoldersLeaseGrantsTheNextWaiter() {
    long a = s.grant("a");
    long b = s.grant("a");
    s.ok(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0));
    s.ok(s.acquire("/a/l", b, LockMode.EXCLUSIVE, deadline));
    ApplyResult r = s.ok(s.revoke(a));
    assertThat(holders("/a/l")).containsExactly(b);
    assertThat(r.lockEvents()).hasSize(2);
    assertThat(s.state.lease(b).orElseThrow().keys()).containsExactly(LockTable.keyOf("/a/l", b));
  }

  @Test
  void tokensCarryTheEpochAcrossFailovers() {
    long a = s.grant("a");
    long t1 = acquired(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0)).getResponse().getFencingToken();
    s.ok(s.release("/a/l", a));
    s.ok(s.setRole(Role.PRIMARY, 2));
    long t2 = acquired(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0)).getResponse().getFencingToken();
    assertThat(FencingToken.epochOf(t2)).isEqualTo(2);
    assertThat(t2).isGreaterThan(t1);
  }

  @Test
  void badLockRequests() {
    long a = s.grant("a");
    long other = s.grant("b");
    byte[] hash = s.hash();
    assertThat(code(s.acquire("/a", a, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.acquire("/a/x/", a, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.acquire("/a/.meridian/x", a, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.RESERVED_KEY);
    assertThat(code(s.acquire("/a/l", other, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.acquire("/a/l", a + 100, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.LEASE_NOT_FOUND);
    assertThat(code(s.release("/a/l", a))).isEqualTo(Error.Code.LOCK_NOT_HELD);
    assertThat(code(s.cancel("nope", a))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(s.hash()).isEqualTo(hash);
    assertThatThrownBy(() -> s.state.inspectLock("/a"))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT));
  }

  @Test
  void snapshotRebuildsTheQueues() {
    long a = s.grant("a");
    long b = s.grant("a");
    long c = s.grant("a");
    s.ok(s.acquire("/a/l", c, LockMode.EXCLUSIVE, 0));
    s.ok(s.acquire("/a/l", a, LockMode.EXCLUSIVE, deadline));
    s.ok(s.acquire("/a/l", b, LockMode.SHARED, deadline));
    LockInspectResponse before = s.state.inspectLock("/a/l");
    Shard copy = new Shard(s.reloaded());
    assertThat(copy.state.inspectLock("/a/l")).isEqualTo(before);
    assertThat(copy.state.stats()).isEqualTo(s.state.stats());
    copy.ok(copy.release("/a/l", c));
    assertThat(copy.state.inspectLock("/a/l").getHolders(0).getLease()).isEqualTo(a);
  }
}
