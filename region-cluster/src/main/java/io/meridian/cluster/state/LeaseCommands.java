package io.meridian.cluster.state;

import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.Role;
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.LeaseExpire;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LeaseRecord;
import io.meridian.cluster.state.lease.LeaseTable;
import java.util.ArrayList;
import java.util.List;

/**
 * Lease grant, revoke, expiry and checkpoints.
 *
 * <p>Ending a lease (revoke or expiry) deletes every key attached to it at the command's revision,
 * lock waiters and holders included, and then grants whoever became first in those locks' queues at
 * the same revision. Expiries and checkpoints are a leader's proposals and are dropped unless their
 * proposer's term is the term of the log entry that carries them and not older than the last {@code
 * LeaderStart} (a deposed leader must not expire a lease the new leader has seen renewed, etcd
 * #15247), or if this cluster is not the PRIMARY. While registry self-preservation is on, an expiry
 * skips every lease that holds registry instances and no lock (see {@link StateCore#preservable});
 * the leader proposes it again later.
 */
final class LeaseCommands {
  private static final CommandResult ACK =
      CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();

  private final StateCore core;

  LeaseCommands(StateCore core) {
    this.core = core;
  }

  CommandResult grant(LeaseGrant req, Batch batch) {
    core.requireWritable();
    KeyPath.checkNamespace(req.getNamespace());
    if (req.getTtlMs() <= 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "ttl_ms: %d (expected: > 0)", req.getTtlMs());
    }
    long id = req.getId();
    if (id != 0) {
      LeaseId.check(id, core.shard);
      if (core.leases.contains(id)) {
        throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "lease %d exists", id);
      }
    }
    core.checkQuota(LeaseTable.LEASE_BYTES);
    id = core.grantLease(batch, req.getNamespace(), req.getTtlMs(), id);
    return CommandResult.newBuilder()
        .setLeaseGrant(
            LeaseGrantResponse.newBuilder()
                .setHeader(core.header(batch))
                .setId(id)
                .setTtl((req.getTtlMs() + 999) / 1000))
        .build();
  }

  CommandResult revoke(LeaseRevokeRequest req, Batch batch) {
    core.requireWritable();
    if (!core.leases.contains(req.getId())) {
      throw MeridianException.of(Error.Code.LEASE_NOT_FOUND, "lease: %d (not found)", req.getId());
    }
    core.grantReady(batch, core.endLease(batch, req.getId()));
    return CommandResult.newBuilder()
        .setLeaseRevoke(LeaseRevokeResponse.newBuilder().setHeader(core.header(batch)))
        .build();
  }

  CommandResult expire(LeaseExpire req, long term, Batch batch) {
    if (!fromLeaderOf(term, req.getProposerTerm())) {
      return ACK;
    }
    List<String> lockNames = new ArrayList<>();
    for (long id : req.getIdsList()) {
      // Self-preservation keeps registry instances through a renewal outage; locks still expire.
      if (core.leases.contains(id) && !(core.selfPreservation && core.preservable(id))) {
        lockNames.addAll(core.endLease(batch, id));
      }
    }
    core.grantReady(batch, lockNames);
    return ACK;
  }

  CommandResult checkpoint(LeaseCheckpoint req, long term) {
    if (!fromLeaderOf(term, req.getProposerTerm())) {
      return ACK;
    }
    for (LeaseCheckpoint.Remaining r : req.getLeasesList()) {
      core.leases.checkpoint(r.getId(), r.getRemainingMs());
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
    return core.role == Role.PRIMARY && proposerTerm == term && term >= core.leaderTerm;
  }

  static LeaseView view(LeaseTable.Lease lease) {
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
