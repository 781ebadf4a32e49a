package io.meridian.cluster.lease;

import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.LeaseEvent;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.lock.LockCommands;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.LeaseExpire;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LeaseRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Lease grant, revoke, expiry and checkpoints.
 *
 * <p>Ending a lease (revoke or expiry) deletes every key attached to it at the command's revision,
 * lock waiters and holders included, and then grants whoever became first in those locks' queues at
 * the same revision. Expiries and checkpoints are a leader's proposals and are dropped unless their
 * proposer's term is the term of the log entry that carries them and not older than the last {@code
 * LeaderStart} (a deposed leader must not expire a lease the new leader has seen renewed, etcd
 * #15247), or if this cluster is not the PRIMARY. While registry self-preservation is on, an expiry
 * skips every lease the registry preserves (the predicate {@link #expire} is given); the leader
 * proposes it again later.
 */
public final class LeaseCommands {
  private static final CommandResult ACK =
      CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();

  private final StateCore core;
  private final KeySpace keys;
  private final LeaseTable table;
  private final LockCommands locks;

  public LeaseCommands(StateCore core, KeySpace keys, LeaseTable table, LockCommands locks) {
    this.core = core;
    this.keys = keys;
    this.table = table;
    this.locks = locks;
  }

  public CommandResult grant(LeaseGrant req, Batch batch) {
    core.requireWritable();
    KeyPath.checkNamespace(req.getNamespace());
    if (req.getTtlMs() <= 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "ttl_ms: %d (expected: > 0)", req.getTtlMs());
    }
    long id = req.getId();
    if (id != 0) {
      LeaseId.check(id, core.shard());
      if (table.contains(id)) {
        throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "lease %d exists", id);
      }
    }
    core.checkQuota(LeaseTable.LEASE_BYTES);
    id = grantLease(batch, req.getNamespace(), req.getTtlMs(), id);
    return CommandResult.newBuilder()
        .setLeaseGrant(
            LeaseGrantResponse.newBuilder()
                .setHeader(core.header(batch))
                .setId(id)
                .setTtl((req.getTtlMs() + 999) / 1000))
        .build();
  }

  public CommandResult revoke(LeaseRevokeRequest req, Batch batch) {
    core.requireWritable();
    if (!table.contains(req.getId())) {
      throw LeaseId.notFound(req.getId());
    }
    locks.grantReady(batch, endLease(batch, req.getId()));
    return CommandResult.newBuilder()
        .setLeaseRevoke(LeaseRevokeResponse.newBuilder().setHeader(core.header(batch)))
        .build();
  }

  /**
   * Ends the expired leases of {@code req} unless {@code preserved} holds for them while
   * self-preservation is on; ends none while the shard's write authority is lost.
   */
  public CommandResult expire(LeaseExpire req, long term, Batch batch, LongPredicate preserved) {
    if (!fromLeaderOf(term, req.getProposerTerm()) || !core.writeAuthorityLost().isEmpty()) {
      // Without write authority nothing expires: an expiry could grant a lock to its next waiter.
      return ACK;
    }
    List<String> lockNames = new ArrayList<>();
    for (long id : req.getIdsList()) {
      // Self-preservation keeps registry instances through a renewal outage; locks still expire.
      if (table.contains(id) && !(core.selfPreservation() && preserved.test(id))) {
        lockNames.addAll(endLease(batch, id));
      }
    }
    locks.grantReady(batch, lockNames);
    return ACK;
  }

  public CommandResult checkpoint(LeaseCheckpoint req, long term) {
    if (!fromLeaderOf(term, req.getProposerTerm())) {
      return ACK;
    }
    for (LeaseCheckpoint.Remaining r : req.getLeasesList()) {
      table.checkpoint(r.getId(), r.getRemainingMs());
    }
    return ACK;
  }

  /**
   * Whether a leader duty proposed in {@code proposerTerm} and carried by an entry of {@code term}
   * counts: the proposer led the term that appended it (a retrying client can resend a deposed
   * leader's proposal to its successor, which appends it in a newer term), that term is not older
   * than the last LeaderStart, and this cluster is the PRIMARY (a standby's leases follow the
   * primary's).
   */
  private boolean fromLeaderOf(long term, long proposerTerm) {
    return core.role() == Role.PRIMARY && proposerTerm == term && term >= core.leaderTerm();
  }

  /** The id the next grant without a chosen id gets: the next sequence number no lease holds. */
  public long nextLeaseId() {
    long seq = core.nextLeaseSeq();
    long id;
    do {
      id = LeaseId.of(core.shard(), ++seq);
    } while (table.contains(id));
    return id;
  }

  /**
   * Grants a lease of {@code namespace} at the batch's revision: {@code id} 0 takes {@link
   * #nextLeaseId()}, else it must be an unused id of this shard. The caller validated the arguments
   * and checked the quota.
   *
   * @return the lease's id
   */
  public long grantLease(Batch batch, String namespace, long ttlMs, long id) {
    if (id == 0) {
      id = nextLeaseId();
      core.setNextLeaseSeq(LeaseId.sequenceOf(id));
    }
    LeaseRecord record =
        LeaseRecord.newBuilder()
            .setId(id)
            .setNamespace(namespace)
            .setTtlMs(ttlMs)
            .setGrantRevision(batch.revision)
            .build();
    table.add(record);
    batch.changes.add(new Change.LeaseGranted(record));
    batch.leaseEvents.add(new LeaseEvent.Granted(id, ttlMs));
    return id;
  }

  /**
   * Ends lease {@code id}: deletes its keys (lock keys leave their queues) and the lease. The
   * caller grants the waiters of the returned lock names once every lease of the command ended.
   */
  public List<String> endLease(Batch batch, long id) {
    List<String> lockNames = new ArrayList<>();
    for (String key : List.copyOf(table.get(id).keys())) {
      LockTable.LockRef ref = LockTable.parseKey(key);
      if (ref != null) {
        lockNames.add(ref.name());
      }
      keys.deleteKey(batch, key, LockEvent.Reason.LEASE_ENDED);
    }
    table.remove(id);
    batch.changes.add(new Change.LeaseRevoked(id));
    batch.leaseEvents.add(new LeaseEvent.Ended(id));
    return lockNames;
  }

  public static LeaseView view(LeaseTable.Lease lease) {
    LeaseRecord r = lease.record();
    return new LeaseView(
        r.getId(),
        r.getNamespace(),
        r.getTtlMs(),
        r.getRemainingMs(),
        r.getGrantRevision(),
        new ArrayList<>(lease.keys()));
  }
}
