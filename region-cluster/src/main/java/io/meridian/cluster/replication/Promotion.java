package io.meridian.cluster.replication;

import io.meridian.api.v1.LeasePolicy;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.lease.LeaseCommands;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.lock.LockCommands;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.SetRole;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a promotion to PRIMARY does besides the role and epoch, applied in the promoting entry at
 * its {@code now_ms}:
 *
 * <ul>
 *   <li><b>Leases ({@code lease_policy}).</b> EXTEND (the default) keeps every lease and clears its
 *       checkpointed remainder, so whichever member leads after the promotion starts each lease
 *       from its full TTL (the old primary's remainders, or this cluster's own from an earlier term
 *       as primary, say nothing about renewals the old primary took). REVOKE ends every lease at
 *       the promotion's revision: keys deleted, locks and registry instances released.
 *   <li><b>The wait ({@code old_primary_unfenced}).</b> The old primary may go on writing until its
 *       write authority runs out ({@code hold_writes_ms} after the promotion, at the latest), and a
 *       client it granted a lock may act on it until that lock's lease runs out after that. So
 *       client writes are refused until {@code now + hold_writes_ms}, and no lock held at the
 *       promotion goes to a new holder until {@code now + hold_writes_ms +} the longest TTL among
 *       the leases holding locks. The wait is replicated state; {@link #endWait} ends it.
 * </ul>
 */
public final class Promotion {
  private final StateCore core;
  private final LeaseTable leaseTable;
  private final LockTable lockTable;
  private final LeaseCommands leases;
  private final LockCommands locks;

  public Promotion(
      StateCore core,
      LeaseTable leaseTable,
      LockTable lockTable,
      LeaseCommands leases,
      LockCommands locks) {
    this.core = core;
    this.leaseTable = leaseTable;
    this.lockTable = lockTable;
    this.leases = leases;
    this.locks = locks;
  }

  /**
   * Applies {@code set}'s lease policy and wait; the caller validated it and already moved the role
   * and epoch, so a revocation's revision belongs to the new epoch.
   */
  public void promote(SetRole set, Batch batch) {
    // Judged before a revocation: the old primary's holders hold on whatever this cluster does.
    core.setPromotionWait(set.getOldPrimaryUnfenced() ? waitFor(set) : null);
    List<Long> ids = new ArrayList<>(leaseTable.records().keySet());
    if (set.getLeasePolicy() == LeasePolicy.REVOKE) {
      List<String> names = new ArrayList<>();
      for (long id : ids) {
        names.addAll(leases.endLease(batch, id));
      }
      locks.grantReady(batch, names);
      return;
    }
    for (long id : ids) {
      leaseTable.checkpoint(id, 0);
    }
  }

  private PromotionWait waitFor(SetRole set) {
    Set<String> held = new LinkedHashSet<>();
    long longestTtl = 0;
    for (LockTable.Waiter holder : lockTable.allHolders()) {
      held.add(holder.name());
      LeaseTable.Lease lease = leaseTable.get(holder.lease());
      if (lease != null) {
        longestTtl = Math.max(longestTtl, lease.record().getTtlMs());
      }
    }
    long writesUntil = core.now() + set.getHoldWritesMs();
    return PromotionWait.newBuilder()
        .setEpoch(set.getEpoch())
        .setPromotedMs(core.now())
        .setWritesUntilMs(writesUntil)
        .setLocksUntilMs(writesUntil + longestTtl)
        .addAllLocks(held)
        .build();
  }

  /**
   * Ends the wait once the command's time reached its lock time, granting the waiters of the locks
   * it held back at the batch's revision; before that, or without a wait, changes nothing.
   */
  public void endWait(Batch batch) {
    PromotionWait wait = core.promotionWait();
    if (wait == null || core.now() < wait.getLocksUntilMs()) {
      return;
    }
    core.setPromotionWait(null);
    locks.grantReady(batch, wait.getLocksList());
  }
}
