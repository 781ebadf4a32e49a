package io.meridian.cluster.node;

import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.EndPromotionWait;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.LeaseExpire;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.SetSelfPreservation;
import io.meridian.cluster.proto.SetWriteAuthority;
import io.meridian.cluster.registry.SelfPreservation;
import io.meridian.cluster.replication.WriteAuthority;
import io.meridian.cluster.state.ShardState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the member that leads a shard in one Raft term must propose on its own, in the style of
 * Kafka's raft {@code LeaderState} (not Ratis's class of the same name): created once the term's
 * first entry is applied and the lease clock took the leases over, dropped when the term ends.
 *
 * <p>{@link #poll} is given the time and returns the commands due: lease expiries (on the monotonic
 * clock), lease checkpoints, the removal of lock waiters whose deadline passed (leader wall clock,
 * as the deadlines were stamped), automatic compaction, registry self-preservation turned on or
 * off, the write authority of a federated primary taken away or given back (on the wall clock, as
 * commit times were stamped), and the end of a promotion's wait (wall clock, every 200 ms). While
 * the authority is lost it proposes no expiry and no waiter sweep: either could grant a lock; while
 * a promotion's wait refuses writes it proposes no sweep. It proposes nothing and reads no clock
 * itself, so it is tested without wall time; the caller proposes each command as leader of {@link
 * #term} and calls {@link #settled} when the proposal completed. An expiry or a waiter sweep is not
 * proposed again while one is in flight.
 */
final class LeaderState {
  /** How often the write authority is judged: a stall shows within this of the limit. */
  static final long WRITE_AUTHORITY_CHECK_MS = 200;

  /**
   * How often each duty runs and what compaction keeps.
   *
   * @param compactionRetentionRevisions 0: no count-based retention
   * @param compactionRetentionMs 0: no age-based retention (both 0: no automatic compaction)
   */
  record Duties(
      long expiryIntervalMs,
      long waiterSweepIntervalMs,
      long checkpointIntervalMs,
      long compactionIntervalMs,
      long compactionRetentionRevisions,
      long compactionRetentionMs,
      long selfPreservationIntervalMs) {}

  private final long term;
  private final String member;
  private final Duties duties;
  private final StateReader<ShardState> state;
  private final LeaseClock leases;
  private final SelfPreservation selfPreservation;
  private final WriteAuthority writeAuthority;
  private final RevisionHistory history;
  private final AtomicBoolean expiryInFlight = new AtomicBoolean();
  private final AtomicBoolean authorityInFlight = new AtomicBoolean();
  private final AtomicBoolean sweepInFlight = new AtomicBoolean();
  private final AtomicBoolean waitEndInFlight = new AtomicBoolean();
  // Poll thread only.
  private long nextExpiry;
  private long nextSweep;
  private long nextCheckpoint;
  private long nextCompaction;
  private long nextSelfPreservation;
  private long nextWriteAuthority;

  LeaderState(
      long term,
      String member,
      Duties duties,
      StateReader<ShardState> state,
      LeaseClock leases,
      SelfPreservation selfPreservation,
      WriteAuthority writeAuthority,
      RevisionHistory history,
      long monotonicNowMs) {
    this.term = term;
    this.member = member;
    this.duties = duties;
    this.state = state;
    this.leases = leases;
    this.selfPreservation = selfPreservation;
    this.writeAuthority = writeAuthority;
    this.history = history;
    this.nextExpiry = monotonicNowMs + duties.expiryIntervalMs();
    this.nextSweep = monotonicNowMs + duties.waiterSweepIntervalMs();
    this.nextCheckpoint = monotonicNowMs + duties.checkpointIntervalMs();
    this.nextCompaction = monotonicNowMs + duties.compactionIntervalMs();
    this.nextSelfPreservation = monotonicNowMs + duties.selfPreservationIntervalMs();
    this.nextWriteAuthority = monotonicNowMs;
  }

  /** The Raft term this member leads; every command {@link #poll} returns is proposed in it. */
  long term() {
    return term;
  }

  /**
   * The commands due at {@code monotonicMs} (this member's monotonic clock) and {@code wallMs} (its
   * wall clock), in the order to propose them. Called from one thread.
   */
  List<Command> poll(long monotonicMs, long wallMs) {
    List<Command> due = new ArrayList<>(2);
    boolean primary = state.read(s -> s.role() == Role.PRIMARY);
    if (monotonicMs >= nextWriteAuthority) {
      nextWriteAuthority = monotonicMs + WRITE_AUTHORITY_CHECK_MS;
      if (primary) {
        writeAuthority(wallMs).ifPresent(due::add);
        promotionWaitEnd(wallMs).ifPresent(due::add);
      }
    }
    // Without write authority nothing may grant a lock: no expiry, no sweep of waiters.
    boolean authority = state.read(s -> s.writeAuthorityLost().isEmpty());
    // While a promotion's wait refuses writes, the sweep would be refused too.
    boolean writable =
        authority
            && state.read(
                s -> s.promotionWait().map(w -> wallMs >= w.getWritesUntilMs()).orElse(true));
    if (monotonicMs >= nextExpiry) {
      nextExpiry = monotonicMs + duties.expiryIntervalMs();
      if (primary && authority) {
        expiry().ifPresent(due::add);
      }
    }
    if (monotonicMs >= nextSweep) {
      nextSweep = monotonicMs + duties.waiterSweepIntervalMs();
      if (primary && writable) {
        waiterSweep(wallMs).ifPresent(due::add);
      }
    }
    if (monotonicMs >= nextCheckpoint) {
      nextCheckpoint = monotonicMs + duties.checkpointIntervalMs();
      if (primary) {
        checkpoint().ifPresent(due::add);
      }
    }
    if (monotonicMs >= nextCompaction) {
      // Standbys compact their own history too.
      nextCompaction = monotonicMs + duties.compactionIntervalMs();
      compaction(monotonicMs).ifPresent(due::add);
    }
    if (monotonicMs >= nextSelfPreservation) {
      nextSelfPreservation = monotonicMs + duties.selfPreservationIntervalMs();
      if (primary) {
        selfPreservation(monotonicMs).ifPresent(due::add);
      }
    }
    return due;
  }

  /** The proposal of {@code command} (one {@link #poll} returned) completed, either way. */
  void settled(Command command) {
    if (command.hasLeaseExpire()) {
      expiryInFlight.set(false);
    } else if (command.hasLockCancel()) {
      sweepInFlight.set(false);
    } else if (command.hasSetWriteAuthority()) {
      authorityInFlight.set(false);
    } else if (command.hasEndPromotionWait()) {
      waitEndInFlight.set(false);
    }
  }

  /** Ends a promotion's wait once this leader's wall clock (the one it was stamped with) passed. */
  private Optional<Command> promotionWaitEnd(long wallMs) {
    if (waitEndInFlight.get()) {
      return Optional.empty();
    }
    Optional<PromotionWait> wait = state.read(ShardState::promotionWait);
    if (wait.isEmpty() || wallMs < wait.get().getLocksUntilMs()) {
      return Optional.empty();
    }
    waitEndInFlight.set(true);
    return Optional.of(
        Command.newBuilder().setEndPromotionWait(EndPromotionWait.getDefaultInstance()).build());
  }

  private Optional<Command> expiry() {
    if (expiryInFlight.get()) {
      return Optional.empty();
    }
    List<Long> due = leases.expired();
    if (due.isEmpty()) {
      return Optional.empty();
    }
    // Under self-preservation, registry leases without locks are kept (the state machine would
    // ignore their expiry too); a lease that holds a lock always expires on time.
    List<Long> expired =
        state.read(
            s ->
                s.selfPreservation()
                    ? due.stream().filter(id -> !s.preservable(id)).toList()
                    : due);
    if (expired.isEmpty()) {
      return Optional.empty();
    }
    expiryInFlight.set(true);
    return Optional.of(
        Command.newBuilder()
            .setLeaseExpire(
                LeaseExpire.newBuilder().addAllIds(expired).setProposerTerm(term).setLeader(member))
            .build());
  }

  private Optional<Command> waiterSweep(long wallMs) {
    if (sweepInFlight.get()) {
      return Optional.empty();
    }
    List<LockCancel.Waiter> late = state.read(s -> s.waitersPastDeadline(wallMs));
    if (late.isEmpty()) {
      return Optional.empty();
    }
    sweepInFlight.set(true);
    return Optional.of(
        Command.newBuilder().setLockCancel(LockCancel.newBuilder().addAllWaiters(late)).build());
  }

  private Optional<Command> checkpoint() {
    Map<Long, Long> remaining = leases.remainingAll();
    if (remaining.isEmpty()) {
      return Optional.empty();
    }
    LeaseCheckpoint.Builder b =
        LeaseCheckpoint.newBuilder().setProposerTerm(term).setLeader(member);
    remaining.forEach(
        (id, ms) ->
            b.addLeases(LeaseCheckpoint.Remaining.newBuilder().setId(id).setRemainingMs(ms)));
    return Optional.of(Command.newBuilder().setLeaseCheckpoint(b).build());
  }

  /**
   * Keeps the last {@code compactionRetentionRevisions} revisions and every revision younger than
   * {@code compactionRetentionMs}, whichever keeps more; on a PRIMARY whose bridge reported a
   * shipped revision, never passes it (the bridge resumes from the change feed).
   */
  private Optional<Command> compaction(long monotonicMs) {
    long retentionRevisions = duties.compactionRetentionRevisions();
    long retentionMs = duties.compactionRetentionMs();
    if (retentionRevisions == 0 && retentionMs == 0) {
      return Optional.empty();
    }
    long[] facts =
        state.read(
            s ->
                new long[] {
                  s.revision(), s.compactRevision(), s.role() == Role.PRIMARY ? s.shipped() : 0
                });
    long target = Long.MAX_VALUE;
    if (retentionRevisions > 0) {
      target = facts[0] - retentionRevisions;
    }
    if (retentionMs > 0) {
      target = Math.min(target, history.atOrBefore(monotonicMs - retentionMs));
    }
    if (facts[2] > 0) {
      target = Math.min(target, facts[2]);
    }
    if (target <= facts[1]) {
      return Optional.empty();
    }
    return Optional.of(
        Command.newBuilder()
            .setCompact(CompactionRequest.newBuilder().setRevision(target))
            .build());
  }

  private Optional<Command> writeAuthority(long wallMs) {
    if (authorityInFlight.get()) {
      return Optional.empty();
    }
    Optional<SetWriteAuthority> decision =
        state.read(
            s ->
                writeAuthority.decide(
                    s.writeAuthorityLost(),
                    s.oldestUnshipped(),
                    s.shipped(),
                    s.lastReportMs(),
                    wallMs));
    if (decision.isEmpty()) {
      return Optional.empty();
    }
    authorityInFlight.set(true);
    return Optional.of(Command.newBuilder().setSetWriteAuthority(decision.get()).build());
  }

  private Optional<Command> selfPreservation(long monotonicMs) {
    long[] facts =
        state.read(s -> new long[] {s.registryInstances(), s.selfPreservation() ? 1 : 0});
    return selfPreservation
        .evaluate(
            monotonicMs,
            facts[0],
            window -> state.read(s -> s.expectedRenewals(window)),
            facts[1] == 1)
        .map(
            d ->
                Command.newBuilder()
                    .setSetSelfPreservation(
                        SetSelfPreservation.newBuilder()
                            .setActive(d.active())
                            .setReason(d.reason()))
                    .build());
  }
}
