package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.FencingToken;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeasePolicy;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.lock.LockWaiterState;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.EndPromotionWait;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.SetRole;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A standby's promotion to PRIMARY: what it does with the old primary's leases (EXTEND, REVOKE),
 * the wait after a failover whose old primary could not be fenced, and fencing tokens across the
 * epochs, all at explicit command times.
 */
class PromotionTest {
  private static final long HOLD_MS = 15_000;
  private static final long TTL_MS = 10_000;

  private final Shard primary = Shard.primary();
  private final Shard standby = Shard.standby();

  private ApplyResult promote(Shard s, long epoch, LeasePolicy policy, boolean unfenced) {
    return s.apply(
        Command.newBuilder()
            .setSetRole(
                SetRole.newBuilder()
                    .setRole(Role.PRIMARY)
                    .setEpoch(epoch)
                    .setLeasePolicy(policy)
                    .setOldPrimaryUnfenced(unfenced)
                    .setHoldWritesMs(unfenced ? HOLD_MS : 0)));
  }

  private ApplyResult endWait(Shard s) {
    return s.apply(Command.newBuilder().setEndPromotionWait(EndPromotionWait.getDefaultInstance()));
  }

  private long lease(Shard s) {
    return s.ok(s.grantResult("a", TTL_MS, 0)).result().getLeaseGrant().getId();
  }

  @Test
  void extendStartsEveryLeaseFromItsFullTtlWhoeverLeadsAfterThePromotion() {
    long id = lease(primary);
    primary.ok(primary.checkpoint(id, 500));
    // A region that was primary before keeps its old remainders through a spell as a standby.
    primary.ok(primary.setRole(Role.STANDBY, 2));
    assertThat(primary.state.checkpointedRemainder(id)).isEqualTo(500);

    primary.ok(promote(primary, 3, LeasePolicy.LEASE_POLICY_UNSPECIFIED, false));
    assertThat(primary.state.checkpointedRemainder(id)).isZero();
    assertThat(primary.state.lease(id)).isPresent();
    // A leader that takes over after the promotion (or restarts from a snapshot of it) starts
    // from the full TTL, not from the 500 ms left before.
    long[] mono = {5_000};
    LeaseClock clock = new LeaseClock(600, () -> mono[0]);
    clock.lead(7);
    assertThat(clock.start(7, new Shard(primary.reloaded()).state.leases(""))).isTrue();
    assertThat(clock.remaining(id).getAsLong()).isGreaterThanOrEqualTo(TTL_MS);
    mono[0] += TTL_MS - 1;
    assertThat(clock.expired()).isEmpty();
  }

  @Test
  void revokeEndsEveryLeaseAsOneRevisionOfTheNewEpoch() {
    long holder = lease(primary);
    long waiter = lease(primary);
    primary.ok(primary.put("/a/session", "s", holder));
    primary.ok(primary.acquire("/a/lock", holder, LockMode.EXCLUSIVE, 0));
    primary.ok(primary.acquire("/a/lock", waiter, LockMode.EXCLUSIVE, primary.now + 60_000));
    primary.ok(primary.register(Shard.instance("a", "api", "i1").setLease(holder), 0));
    standby.follow(primary);
    assertThat(standby.state.registryInstances()).isEqualTo(1);

    assertThat(code(standby.apply(revokeAs(Role.STANDBY, 2))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    long before = standby.state.revision();
    ApplyResult r = standby.ok(promote(standby, 2, LeasePolicy.REVOKE, false));

    assertThat(r.revision()).isEqualTo(before + 1);
    assertThat(standby.state.leases("")).isEmpty();
    assertThat(standby.get("/a/session")).isNull();
    assertThat(standby.state.inspectLock("/a/lock").getHoldersCount()).isZero();
    assertThat(standby.state.inspectLock("/a/lock").getWaitersCount()).isZero();
    assertThat(standby.state.registryInstances()).isZero();
    // Watches and the bridge see it: one batch of the new epoch.
    List<ChangeBatch> shipped = standby.state.changeBatches(0, before, 10);
    assertThat(shipped).hasSize(1);
    assertThat(shipped.get(0).getEpoch()).isEqualTo(2);
    assertThat(standby.state.epochHistory().get(1).getStartRevision()).isEqualTo(before + 1);

    // The same promotion sent again revokes nothing granted since.
    long fresh = lease(standby);
    standby.ok(promote(standby, 2, LeasePolicy.REVOKE, false));
    assertThat(standby.state.lease(fresh)).isPresent();
  }

  private static Command.Builder revokeAs(Role role, long epoch) {
    return Command.newBuilder()
        .setSetRole(
            SetRole.newBuilder().setRole(role).setEpoch(epoch).setLeasePolicy(LeasePolicy.REVOKE));
  }

  @Test
  void afterAnUnfencedFailoverWritesWaitTheWriteAuthorityLimit() {
    primary.ok(primary.put("/a/k", "1"));
    standby.follow(primary);
    long promoted = standby.now;
    standby.ok(promote(standby, 2, LeasePolicy.EXTEND, true));
    PromotionWait wait = standby.state.promotionWait().orElseThrow();
    assertThat(wait.getWritesUntilMs()).isEqualTo(promoted + HOLD_MS);
    // No lock was held: nothing more to wait for.
    assertThat(wait.getLocksUntilMs()).isEqualTo(promoted + HOLD_MS);

    standby.now = promoted + 2_700;
    ApplyResult refused = standby.put("/a/k", "2");
    assertThat(code(refused)).isEqualTo(Error.Code.FENCED);
    assertThat(refused.result().getError().getMessage())
        .isEqualTo(
            "shard 3: promoted at epoch 2 while the old primary could not be fenced; writes resume"
                + " in 12.3 s (replication.write-authority-ms after the promotion)");
    assertThat(code(standby.grantResult("a", TTL_MS, 0))).isEqualTo(Error.Code.FENCED);
    // Reads and keep-alives (which need a PRIMARY, not write authority) go on.
    assertThat(standby.value("/a/k")).isEqualTo("1");
    assertThat(standby.state.requirePrimary()).isEqualTo(Role.PRIMARY);

    standby.now = promoted + HOLD_MS - 1;
    assertThat(code(standby.put("/a/k", "2"))).isEqualTo(Error.Code.FENCED);
    standby.now = promoted + HOLD_MS;
    standby.ok(standby.put("/a/k", "2"));
  }

  @Test
  void aLockHeldAtTheFailoverGoesToNoOneElseBeforeTheLimitPlusTheLongestLockLease() {
    long holder = lease(primary);
    long waiter = lease(primary);
    long longer = primary.ok(primary.grantResult("a", 30_000, 0)).result().getLeaseGrant().getId();
    primary.ok(primary.acquire("/a/lock", holder, LockMode.EXCLUSIVE, 0));
    primary.ok(primary.acquire("/a/lock", waiter, LockMode.EXCLUSIVE, primary.now + 600_000));
    primary.ok(primary.acquire("/a/other", longer, LockMode.EXCLUSIVE, 0));
    standby.follow(primary);
    long promoted = standby.now;
    standby.ok(promote(standby, 2, LeasePolicy.EXTEND, true));
    long locksUntil = promoted + HOLD_MS + 30_000;
    PromotionWait wait = standby.state.promotionWait().orElseThrow();
    assertThat(wait.getLocksUntilMs()).isEqualTo(locksUntil);
    assertThat(wait.getLocksList()).containsExactly("/a/lock", "/a/other");

    // The holder stops renewing here: its lease ends, but its lock goes to no one yet.
    standby.now = promoted + TTL_MS + 1;
    standby.ok(standby.expire(holder));
    assertThat(standby.state.lease(holder)).isEmpty();
    assertThat(standby.state.lockWaiter("/a/lock", waiter))
        .isInstanceOf(LockWaiterState.Waiting.class);
    standby.now = promoted + HOLD_MS;
    long other = lease(standby);
    ApplyResult refused = standby.acquire("/a/lock", other, LockMode.EXCLUSIVE, 0);
    assertThat(code(refused)).isEqualTo(Error.Code.LOCK_TIMEOUT);
    assertThat(refused.result().getError().getMessage())
        .contains("held when this cluster was promoted at epoch 2");
    // A lock nobody held at the failover is granted as soon as writes resume.
    standby.ok(standby.acquire("/a/free", other, LockMode.EXCLUSIVE, 0));

    // A wait end stamped early (a leader whose clock is behind) changes nothing.
    standby.now = locksUntil - 1;
    standby.ok(endWait(standby));
    assertThat(standby.state.promotionWait()).isPresent();
    assertThat(standby.state.lockWaiter("/a/lock", waiter))
        .isInstanceOf(LockWaiterState.Waiting.class);

    standby.now = locksUntil;
    ApplyResult ended = standby.ok(endWait(standby));
    assertThat(standby.state.promotionWait()).isEmpty();
    assertThat(ended.committed()).hasSize(1);
    LockWaiterState granted = standby.state.lockWaiter("/a/lock", waiter);
    assertThat(granted).isInstanceOf(LockWaiterState.Held.class);
    assertThat(((LockWaiterState.Held) granted).token())
        .isEqualTo(FencingToken.of(2, ended.revision()));
  }

  @Test
  void theWaitIsReplicatedStateThatSurvivesASnapshot() {
    long holder = lease(primary);
    primary.ok(primary.acquire("/a/lock", holder, LockMode.EXCLUSIVE, 0));
    standby.follow(primary);
    long promoted = standby.now;
    standby.ok(promote(standby, 2, LeasePolicy.EXTEND, true));

    Shard copy = new Shard(standby.reloaded());
    copy.now = promoted + 1_000;
    assertThat(copy.state.promotionWait()).isEqualTo(standby.state.promotionWait());
    assertThat(copy.hash()).isEqualTo(standby.hash());
    assertThat(code(copy.put("/a/k", "x"))).isEqualTo(Error.Code.FENCED);
    copy.now = promoted + HOLD_MS;
    copy.ok(copy.put("/a/k", "x"));
    assertThat(code(copy.acquire("/a/lock", lease(copy), LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.LOCK_TIMEOUT);

    // A later role change away from PRIMARY ends the wait.
    standby.ok(standby.setRole(Role.FENCED, 3));
    assertThat(standby.state.promotionWait()).isEmpty();
    assertThat(code(standby.apply(unfencedAs(Role.STANDBY, 4))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
  }

  private static Command.Builder unfencedAs(Role role, long epoch) {
    return Command.newBuilder()
        .setSetRole(
            SetRole.newBuilder()
                .setRole(role)
                .setEpoch(epoch)
                .setOldPrimaryUnfenced(true)
                .setHoldWritesMs(HOLD_MS));
  }

  @Test
  void aLockGrantedAfterAPromotionOutranksEveryTokenOfTheOldEpochThoughRevisionsAreReused() {
    long a = lease(primary);
    standby.follow(primary);
    long lastShipped = standby.state.revision();
    // The old primary goes on: revisions the standby never gets, with ever higher tokens.
    long oldMax = 0;
    for (int i = 0; i < 20; i++) {
      long t =
          primary
              .ok(primary.acquire("/a/lock", a, LockMode.EXCLUSIVE, 0))
              .result()
              .getLockAcquire()
              .getResponse()
              .getFencingToken();
      oldMax = Math.max(oldMax, t);
      primary.ok(primary.release("/a/lock", a));
    }

    standby.ok(promote(standby, 2, LeasePolicy.EXTEND, false));
    long token =
        standby
            .ok(standby.acquire("/a/lock", a, LockMode.EXCLUSIVE, 0))
            .result()
            .getLockAcquire()
            .getResponse()
            .getFencingToken();
    // The grant reuses a revision the old primary used for one of its own grants.
    assertThat(FencingToken.revisionOf(token)).isEqualTo(lastShipped + 1);
    assertThat(FencingToken.epochOf(token)).isEqualTo(2);
    assertThat(token).isGreaterThan(oldMax);
  }
}
