package io.meridian.cluster.lock;

import io.meridian.api.FencingToken;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockOwner;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.LockReleaseResponse;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.kv.LeaseBinding;
import io.meridian.cluster.kv.MvccStore;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.LockAcquireResult;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.LockCancelResult;
import io.meridian.cluster.proto.LockWaiterValue;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Lock acquire, release, cancel and inspect over the lock keys (see {@link LockTable}).
 *
 * <p>Guarantees: a waiter is identified by (lock, lease), so a retried acquire is idempotent;
 * waiters are served first in, first out; an EXCLUSIVE holder is alone; every grant's fencing token
 * is {@code FencingToken.of(epoch, revision of the grant)}, so tokens strictly increase within a
 * lock. After a promotion whose old primary could not be fenced, a lock held at the promotion goes
 * to no new holder until the promotion's wait ends. A waiter never waits without a deadline: an
 * acquire that cannot be granted now and has no deadline fails with LOCK_TIMEOUT and leaves nothing
 * behind.
 */
public final class LockCommands {
  private final StateCore core;
  private final KeySpace keys;
  private final LockTable table;
  private final LeaseBinding leases;

  public LockCommands(StateCore core, KeySpace keys, LockTable table, LeaseBinding leases) {
    this.core = core;
    this.keys = keys;
    this.table = table;
    this.leases = leases;
  }

  /**
   * Grants every waiter of {@code names} that became grantable, at the batch's revision, except
   * those of locks a promotion's wait holds back (its end grants them).
   */
  public void grantReady(Batch batch, Collection<String> names) {
    Set<String> sorted = new TreeSet<>(KeyPath.ORDER);
    sorted.addAll(names);
    for (String name : sorted) {
      if (core.lockHeldBack(name)) {
        continue;
      }
      for (LockTable.Waiter w : table.grantable(name)) {
        grant(batch, w.key(), w.lease(), w.value());
      }
    }
  }

  /** Writes a lock key as granted: token = (epoch, revision of the grant). */
  private long grant(Batch batch, String key, long lease, LockWaiterValue waiting) {
    long token = FencingToken.of(core.epoch(), batch.revision);
    LockWaiterValue granted =
        waiting.toBuilder().setFencingToken(token).setGrantRevision(batch.revision).build();
    keys.putKey(batch, key, granted.toByteString(), lease);
    LockTable.LockRef ref = LockTable.parseKey(key);
    batch.lockEvents.add(new LockEvent.Granted(ref.name(), lease, token, key, batch.revision));
    return token;
  }

  public CommandResult acquire(LockAcquire req, Batch batch) {
    core.requireWritable();
    String name = req.getName();
    LockTable.checkName(name);
    if (req.getMode() == LockMode.UNRECOGNIZED || req.getDeadlineMs() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "lock %s: unknown mode or negative deadline", name);
    }
    leases.requireLeaseOf(req.getLease(), name);
    LockTable.Waiter existing = table.find(name, req.getLease());
    if (existing != null) {
      // A retry of an acquire that already applied: report, change nothing.
      return result(
          existing.granted(),
          name,
          req.getLease(),
          existing.value().getFencingToken(),
          existing.key(),
          batch);
    }
    if (req.getHierarchical()) {
      String parent = LockTable.parentOf(name);
      LockTable.Waiter held = parent == null ? null : table.find(parent, req.getLease());
      if (parent != null && (held == null || !held.granted())) {
        throw MeridianException.of(
            Error.Code.LOCK_PARENT_NOT_HELD,
            "lock %s: lease %d does not hold the parent lock %s",
            KeyPath.abbreviate(name),
            req.getLease(),
            KeyPath.abbreviate(parent));
      }
    }
    boolean heldBack = core.lockHeldBack(name);
    boolean grantable = !heldBack && table.grantableIfAppended(name, req.getMode());
    if (heldBack && req.getDeadlineMs() == 0) {
      throw MeridianException.of(
          Error.Code.LOCK_TIMEOUT,
          "lock %s: held when this cluster was promoted at epoch %d while the old primary could not"
              + " be fenced; no new holder before %d ms from now (acquire did not wait: no deadline)",
          KeyPath.abbreviate(name),
          core.promotionWait().getEpoch(),
          core.promotionWait().getLocksUntilMs() - core.now());
    }
    if (!grantable && req.getDeadlineMs() == 0) {
      throw MeridianException.of(
          Error.Code.LOCK_TIMEOUT,
          "lock %s: held by another lease (acquire did not wait: no deadline)",
          KeyPath.abbreviate(name));
    }
    String key = LockTable.keyOf(name, req.getLease());
    LockWaiterValue waiting =
        LockWaiterValue.newBuilder()
            .setMode(req.getMode())
            .setHierarchical(req.getHierarchical())
            .setDeadlineMs(req.getDeadlineMs())
            .build();
    int valueBytes =
        grantable
            ? waiting.toBuilder()
                .setFencingToken(FencingToken.of(core.epoch(), batch.revision))
                .setGrantRevision(batch.revision)
                .build()
                .getSerializedSize()
            : waiting.getSerializedSize();
    core.checkQuota(MvccStore.versionBytes(key, valueBytes));
    long token = 0;
    if (grantable) {
      token = grant(batch, key, req.getLease(), waiting);
    } else {
      keys.putKey(batch, key, waiting.toByteString(), req.getLease());
    }
    return result(grantable, name, req.getLease(), token, key, batch);
  }

  private CommandResult result(
      boolean granted, String name, long lease, long token, String key, Batch batch) {
    return CommandResult.newBuilder()
        .setLockAcquire(
            LockAcquireResult.newBuilder()
                .setGranted(granted)
                .setResponse(
                    LockAcquireResponse.newBuilder()
                        .setHeader(core.header(batch))
                        .setName(name)
                        .setLease(lease)
                        .setFencingToken(token)
                        .setKey(key)))
        .build();
  }

  public CommandResult release(LockReleaseRequest req, Batch batch) {
    core.requireWritable();
    LockTable.checkName(req.getName());
    LockTable.Waiter w = table.find(req.getName(), req.getLease());
    if (w == null) {
      throw MeridianException.of(
          Error.Code.LOCK_NOT_HELD,
          "lock %s: lease %d neither holds nor waits for it",
          KeyPath.abbreviate(req.getName()),
          req.getLease());
    }
    keys.deleteKey(batch, w.key(), LockEvent.Reason.RELEASED);
    grantReady(batch, List.of(req.getName()));
    return CommandResult.newBuilder()
        .setLockRelease(LockReleaseResponse.newBuilder().setHeader(core.header(batch)))
        .build();
  }

  public CommandResult cancel(LockCancel req, Batch batch) {
    core.requireWritable();
    for (LockCancel.Waiter w : req.getWaitersList()) {
      LockTable.checkName(w.getName());
    }
    List<String> names = new ArrayList<>();
    for (LockCancel.Waiter c : req.getWaitersList()) {
      LockTable.Waiter w = table.find(c.getName(), c.getLease());
      if (w != null && !w.granted()) {
        keys.deleteKey(batch, w.key(), LockEvent.Reason.CANCELLED);
        names.add(c.getName());
      }
    }
    grantReady(batch, names);
    return CommandResult.newBuilder()
        .setLockCancel(LockCancelResult.newBuilder().setRevision(core.header(batch).getRevision()))
        .build();
  }

  public LockInspectResponse inspect(String name) {
    LockTable.checkName(name);
    LockInspectResponse.Builder out =
        LockInspectResponse.newBuilder().setHeader(core.header()).setName(name);
    for (LockTable.Waiter w : table.queue(name)) {
      LockWaiterValue v = w.value();
      LockOwner owner =
          LockOwner.newBuilder()
              .setLease(w.lease())
              .setMode(v.getMode())
              .setFencingToken(v.getFencingToken())
              .setCreateRevision(w.createRevision())
              .setGrantRevision(v.getGrantRevision())
              .setDeadlineMs(v.getDeadlineMs())
              .setHierarchical(v.getHierarchical())
              .build();
      if (w.granted()) {
        out.addHolders(owner);
      } else {
        out.addWaiters(owner);
      }
    }
    return out.build();
  }
}
