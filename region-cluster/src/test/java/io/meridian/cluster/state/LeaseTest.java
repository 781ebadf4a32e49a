package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.LeaseId;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.LeaseEvent;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.lease.LeaseView;
import org.junit.jupiter.api.Test;

class LeaseTest {
  private final Shard s = Shard.primary();

  @Test
  void grantAssignsIdsOfThisShardAndBumpsTheRevision() {
    ApplyResult r = s.ok(s.grantResult("a", 30_000, 0));
    long id = r.result().getLeaseGrant().getId();
    assertThat(id).isEqualTo(LeaseId.of(Shard.SHARD, 1));
    assertThat(r.result().getLeaseGrant().getTtl()).isEqualTo(30);
    assertThat(r.revision()).isEqualTo(1);
    assertThat(r.leaseEvents()).containsExactly(new LeaseEvent.Granted(id, 30_000));
    assertThat(r.changes()).singleElement().isInstanceOf(Change.LeaseGranted.class);
    LeaseView view = s.state.lease(id).orElseThrow();
    assertThat(view).isEqualTo(new LeaseView(id, "a", 30_000, 0, 1, java.util.List.of()));
    // A chosen id is honoured; the generator skips it later.
    long chosen = LeaseId.of(Shard.SHARD, 2);
    assertThat(s.ok(s.grantResult("b", 5000, chosen)).result().getLeaseGrant().getId())
        .isEqualTo(chosen);
    assertThat(s.grant("a")).isEqualTo(LeaseId.of(Shard.SHARD, 3));
    assertThat(s.state.leases("")).hasSize(3);
    assertThat(s.state.leases("a")).extracting(LeaseView::namespace).containsOnly("a");
  }

  @Test
  void badGrantsAreRefused() {
    long id = s.grant("a");
    byte[] before = s.hash();
    assertThat(code(s.grantResult("a", 1000, id))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(s.grantResult("a", 1000, id).result().getError().getMessage())
        .contains("lease " + id + " exists");
    assertThat(code(s.grantResult("a", 1000, LeaseId.of(Shard.SHARD + 1, 9))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.grantResult("a", 0, 0))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.grantResult("bad ns", 1000, 0))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.revoke(id + 1))).isEqualTo(Error.Code.LEASE_NOT_FOUND);
    assertThat(s.hash()).isEqualTo(before);
  }

  @Test
  void revokeDeletesAttachedKeysAtOneRevision() {
    long id = s.grant("a");
    s.ok(s.put("/a/x", "1", id));
    s.ok(s.put("/a/y", "2", id));
    s.ok(s.put("/a/z", "3"));
    ApplyResult r = s.ok(s.revoke(id));
    assertThat(r.revision()).isEqualTo(5);
    assertThat(r.changes())
        .extracting(c -> c.getClass().getSimpleName())
        .containsExactly("KvDelete", "KvDelete", "LeaseRevoked");
    assertThat(r.leaseEvents()).containsExactly(new LeaseEvent.Ended(id));
    assertThat(s.get("/a/x")).isNull();
    assertThat(s.get("/a/y")).isNull();
    assertThat(s.value("/a/z")).isEqualTo("3");
    assertThat(s.state.lease(id)).isEmpty();
  }

  @Test
  void expiryFromADeposedLeaderIsIgnored() {
    long id = s.grant("a");
    s.ok(s.put("/a/x", "1", id));
    s.ok(s.leaderStart(5));
    s.term = 4; // an expiry proposed in an older term, committed after the new leader started
    ApplyResult stale = s.ok(s.expire(id));
    assertThat(stale.revision()).isEqualTo(2);
    assertThat(s.state.lease(id)).isPresent();
    s.term = 5;
    ApplyResult r = s.ok(s.expire(id, id + 100));
    assertThat(r.revision()).isEqualTo(3);
    assertThat(r.leaseEvents()).containsExactly(new LeaseEvent.Ended(id));
    assertThat(s.state.lease(id)).isEmpty();
    assertThat(s.get("/a/x")).isNull();
    // Unknown ids alone: no revision.
    assertThat(s.ok(s.expire(id)).revision()).isEqualTo(3);
  }

  @Test
  void anExpiryResentToTheNextLeaderIsIgnored() {
    long id = s.grant("a");
    s.ok(s.put("/a/x", "1", id));
    s.ok(s.leaderStart(5));
    s.term = 5;
    // Proposed by the leader of term 4, appended by the leader of term 5 (a retrying client).
    ApplyResult resent = s.ok(s.expireProposedIn(4, id));
    assertThat(resent.revision()).isEqualTo(2);
    assertThat(resent.leaseEvents()).isEmpty();
    assertThat(s.state.lease(id)).isPresent();
    // A checkpoint likewise: a deposed leader's remainders must not shorten the new leader's.
    s.ok(s.checkpointProposedIn(4, id, 10));
    assertThat(s.state.lease(id).orElseThrow().remainingMs()).isZero();
    // Proposed and appended in term 5: applied.
    s.ok(s.checkpoint(id, 1234));
    assertThat(s.state.lease(id).orElseThrow().remainingMs()).isEqualTo(1234);
    s.ok(s.checkpoint(id, 0));
    assertThat(s.state.lease(id).orElseThrow().remainingMs()).isZero();
    assertThat(s.ok(s.expire(id)).leaseEvents()).containsExactly(new LeaseEvent.Ended(id));
  }

  @Test
  void expiryAndCheckpointAreIgnoredUnlessPrimary() {
    long id = s.grant("a");
    s.ok(s.setRole(Role.STANDBY, 2));
    s.ok(s.expire(id));
    s.ok(s.checkpoint(id, 1234));
    assertThat(s.state.lease(id).orElseThrow().remainingMs()).isZero();
    s.ok(s.setRole(Role.PRIMARY, 3));
    ApplyResult cp = s.ok(s.checkpoint(id, 1234));
    assertThat(cp.revision()).isEqualTo(1);
    assertThat(s.state.lease(id).orElseThrow().remainingMs()).isEqualTo(1234);
    assertThat(s.reloaded().lease(id).orElseThrow().remainingMs()).isEqualTo(1234);
  }

  @Test
  void expiringSeveralLeasesGrantsWaitersOnce() {
    long a = s.grant("a");
    long b = s.grant("a");
    long c = s.grant("a");
    s.ok(s.acquire("/a/l", a, LockMode.EXCLUSIVE, 0));
    s.ok(s.acquire("/a/l", b, LockMode.EXCLUSIVE, s.now + 10_000));
    s.ok(s.acquire("/a/l", c, LockMode.EXCLUSIVE, s.now + 10_000));
    ApplyResult r = s.ok(s.expire(a, b));
    assertThat(r.lockEvents())
        .containsExactly(
            new LockEvent.Removed("/a/l", a, LockEvent.Reason.LEASE_ENDED, r.revision()),
            new LockEvent.Removed("/a/l", b, LockEvent.Reason.LEASE_ENDED, r.revision()),
            new LockEvent.Granted(
                "/a/l",
                c,
                io.meridian.api.FencingToken.of(1, r.revision()),
                io.meridian.cluster.lock.LockTable.keyOf("/a/l", c),
                r.revision()));
  }
}
