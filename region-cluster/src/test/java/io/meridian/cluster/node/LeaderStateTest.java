package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.SetRole;
import io.meridian.cluster.proto.ShardSettings;
import io.meridian.cluster.registry.SelfPreservation;
import io.meridian.cluster.state.ShardState;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The leader's duties on a fake clock: what is due when, and nothing twice while in flight. */
class LeaderStateTest {
  private static final long TERM = 3;
  private static final long ELECTION_TIMEOUT_MS = 1_000;

  private final ShardState state = new ShardState(0);
  private final AtomicLong monotonic = new AtomicLong(50_000);
  private final long wall = 1_700_000_000_000L;
  private final LeaseClock leases = new LeaseClock(ELECTION_TIMEOUT_MS, monotonic::get);
  private final RevisionHistory history = new RevisionHistory();

  private ApplyResult apply(Command.Builder c) {
    ApplyResult r = state.apply(c.setNowMs(wall).build(), TERM);
    assertThat(r.result().hasError()).as("%s", r.result().getError()).isFalse();
    return r;
  }

  private void primary() {
    apply(
        Command.newBuilder()
            .setInitShard(
                InitShard.newBuilder()
                    .setRole(Role.PRIMARY)
                    .setEpoch(1)
                    .setSettings(
                        ShardSettings.newBuilder().setQuotaBytes(1L << 30).setDedupCapacity(100))));
    apply(Command.newBuilder().setLeaderStart(LeaderStart.newBuilder().setLeader("n1")));
  }

  private long grant(long ttlMs) {
    return apply(
            Command.newBuilder()
                .setLeaseGrant(LeaseGrant.newBuilder().setNamespace("a").setTtlMs(ttlMs)))
        .result()
        .getLeaseGrant()
        .getId();
  }

  private LeaderState leader(long retentionRevisions) {
    leases.lead(TERM);
    assertThat(leases.start(TERM, state.leases(""))).isTrue();
    return new LeaderState(
        TERM,
        "n1",
        new LeaderState.Duties(200, 500, 60_000, 1_000, retentionRevisions, 0, 1_000),
        new StateReader<ShardState>() {
          @Override
          public <T> T read(Function<? super ShardState, T> reader) {
            return reader.apply(state);
          }
        },
        leases,
        new SelfPreservation(false, 0.85, 10, 60_000),
        new io.meridian.cluster.replication.WriteAuthority(0),
        history,
        monotonic.get());
  }

  /** Polls every 100 ms of fake time for {@code ms}; every command returned, in order. */
  private List<Command> run(LeaderState leader, long ms) {
    List<Command> all = new ArrayList<>();
    for (long t = 0; t < ms; t += 100) {
      all.addAll(leader.poll(monotonic.addAndGet(100), wall + t));
    }
    return all;
  }

  @Test
  void aLeaseExpiresOnceItsTtlAndTheElectionTimeoutPassedAndNotAgainWhileInFlight() {
    primary();
    long id = grant(2_000);
    LeaderState leader = leader(0);

    assertThat(run(leader, 2_900)).noneMatch(Command::hasLeaseExpire);
    List<Command> later = run(leader, 1_000);

    assertThat(later).filteredOn(Command::hasLeaseExpire).hasSize(1);
    Command expire = later.stream().filter(Command::hasLeaseExpire).findFirst().orElseThrow();
    assertThat(expire.getLeaseExpire().getIdsList()).containsExactly(id);
    assertThat(expire.getLeaseExpire().getProposerTerm()).isEqualTo(TERM);
    assertThat(run(leader, 2_000)).noneMatch(Command::hasLeaseExpire);
    // Not applied (the proposal failed, say): proposed again once settled.
    leader.settled(expire);
    assertThat(run(leader, 300)).filteredOn(Command::hasLeaseExpire).hasSize(1);
  }

  @Test
  void aStandbyLeaderExpiresNothingButStillCompacts() {
    primary();
    grant(200);
    for (int i = 0; i < 30; i++) {
      apply(Command.newBuilder().setPut(PutRequest.newBuilder().setKey("/a/k" + i)));
    }
    apply(Command.newBuilder().setSetRole(SetRole.newBuilder().setRole(Role.STANDBY).setEpoch(2)));
    LeaderState leader = leader(10);

    List<Command> due = run(leader, 5_000);

    assertThat(due).noneMatch(c -> c.hasLeaseExpire() || c.hasLeaseCheckpoint());
    assertThat(due).filteredOn(Command::hasCompact).isNotEmpty();
    assertThat(due.stream().filter(Command::hasCompact).findFirst().orElseThrow())
        .extracting(c -> c.getCompact().getRevision())
        .isEqualTo(state.revision() - 10);
  }

  @Test
  void aWaiterPastItsDeadlineIsSweptOnce() {
    primary();
    long holder = grant(60_000);
    long waiter = grant(60_000);
    apply(
        Command.newBuilder()
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName("/a/l")
                    .setLease(holder)
                    .setMode(LockMode.EXCLUSIVE)));
    apply(
        Command.newBuilder()
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName("/a/l")
                    .setLease(waiter)
                    .setMode(LockMode.EXCLUSIVE)
                    .setDeadlineMs(wall + 1_000)));
    LeaderState leader = leader(0);

    List<Command> sweeps = run(leader, 3_000).stream().filter(Command::hasLockCancel).toList();

    assertThat(sweeps).hasSize(1);
    assertThat(sweeps.get(0).getLockCancel().getWaitersList())
        .extracting(w -> w.getLease())
        .containsExactly(waiter);
  }

  @Test
  void afterAnUnfencedPromotionTheSweepWaitsForWritesAndTheWaitEndsOnceItsLockTimePassed() {
    primary();
    long holder = grant(60_000);
    long waiter = grant(60_000);
    apply(
        Command.newBuilder()
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName("/a/l")
                    .setLease(holder)
                    .setMode(LockMode.EXCLUSIVE)));
    apply(
        Command.newBuilder()
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName("/a/l")
                    .setLease(waiter)
                    .setMode(LockMode.EXCLUSIVE)
                    .setDeadlineMs(wall + 1_000)));
    apply(Command.newBuilder().setSetRole(SetRole.newBuilder().setRole(Role.STANDBY).setEpoch(2)));
    apply(
        Command.newBuilder()
            .setSetRole(
                SetRole.newBuilder()
                    .setRole(Role.PRIMARY)
                    .setEpoch(3)
                    .setOldPrimaryUnfenced(true)
                    .setHoldWritesMs(2_000)));
    LeaderState leader = leader(0);

    List<Long> sweptAt = new ArrayList<>();
    List<Long> endedAt = new ArrayList<>();
    for (long t = 0; t < 70_000; t += 100) {
      for (Command c : leader.poll(monotonic.addAndGet(100), wall + t)) {
        if (c.hasLockCancel()) {
          sweptAt.add(t);
        } else if (c.hasEndPromotionWait()) {
          endedAt.add(t);
        }
      }
    }

    // The sweep would be refused while writes are: it starts once they resume.
    assertThat(sweptAt).hasSize(1);
    assertThat(sweptAt.get(0)).isGreaterThanOrEqualTo(2_000);
    // The limit plus the holder's 60 s lease; proposed once while in flight.
    assertThat(endedAt).hasSize(1);
    assertThat(endedAt.get(0)).isBetween(62_000L, 62_200L);
  }
}
