package io.meridian.cluster.replication;

import com.google.protobuf.ByteString;
import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeOp;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.ReportShippedResponse;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.ChangeJournal;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.lease.LeaseCommands;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.proto.CommandResult;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Replicated change batches on a STANDBY, and the shipped position on a PRIMARY.
 *
 * <p>A run of batches is checked whole before anything is applied: each batch must be the revision
 * after the previous one, extend the chain hash, and come from an epoch no older than the
 * standby's. Batches at or below the applied revision are duplicates (a bridge resending after a
 * restart) and are skipped, after checking that they match the history the standby has. A batch is
 * applied with the same primitives client writes use, at exactly its revision, so the standby's
 * keys, versions, leases, lock queues and registry are the primary's; the batch itself becomes the
 * standby's journal entry, so a promoted standby continues the same chain. A standby never expires
 * leases itself: it applies the primary's lease ends.
 */
public final class ReplicationCommands {
  private final StateCore core;
  private final KeySpace keys;
  private final LeaseTable leaseTable;
  private final LeaseCommands leases;

  public ReplicationCommands(
      StateCore core, KeySpace keys, LeaseTable leaseTable, LeaseCommands leases) {
    this.core = core;
    this.keys = keys;
    this.leaseTable = leaseTable;
    this.leases = leases;
  }

  public CommandResult apply(
      ApplyReplicatedRequest req, Batch events, List<ApplyResult.Committed> committed) {
    if (!core.initialized() || core.role() != Role.STANDBY) {
      throw MeridianException.of(
          Error.Code.NOT_STANDBY,
          "shard %d: this region cluster is %s (expected: a STANDBY; replicated batches go only"
              + " to standbys)",
          core.shard(),
          core.initialized() ? core.role() : "not initialized");
    }
    int skipped = check(req.getBatchesList());
    List<ChangeBatch> fresh = req.getBatchesList().subList(skipped, req.getBatchesCount());
    for (ChangeBatch b : fresh) {
      if (b.getEpoch() > core.epoch()) {
        // The primary was promoted in a newer epoch: the standby follows its history.
        core.setEpoch(b.getEpoch());
        core.epochHistory()
            .add(
                EpochStart.newBuilder()
                    .setEpoch(b.getEpoch())
                    .setStartRevision(b.getRevision())
                    .build());
      }
      Batch batch = new Batch(b.getRevision());
      for (ChangeOp op : b.getOpsList()) {
        applyOp(op, batch);
      }
      core.journal().append(b);
      core.setRevision(b.getRevision());
      committed.add(new ApplyResult.Committed(b, batch.changes));
      events.lockEvents.addAll(batch.lockEvents);
      events.leaseEvents.addAll(batch.leaseEvents);
    }
    if (req.hasSource()) {
      core.setSource(req.getSource());
    }
    if (req.hasLag()) {
      core.setLag(req.getLag());
    }
    return CommandResult.newBuilder()
        .setApplyReplicated(
            ApplyReplicatedResponse.newBuilder()
                .setHeader(core.header())
                .setApplied(fresh.size())
                .setSkipped(skipped)
                .setState(state(core)))
        .build();
  }

  /** Checks a run against the history and returns how many of its first batches are duplicates. */
  private int check(List<ChangeBatch> run) {
    int skipped = 0;
    long expected = core.revision() + 1;
    ByteString chain = core.journal().chainHash();
    long epoch = core.epoch();
    for (int i = 0; i < run.size(); i++) {
      ChangeBatch b = run.get(i);
      if (b.getShard() != core.shard()) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "batch shard: %d (expected: %d, this replica's shard)",
            b.getShard(),
            core.shard());
      }
      if (i > 0 && b.getRevision() != run.get(i - 1).getRevision() + 1) {
        throw gap(b.getRevision(), run.get(i - 1).getRevision() + 1);
      }
      if (b.getRevision() < expected) {
        if (skipped != i) {
          throw gap(b.getRevision(), expected);
        }
        checkDuplicate(b);
        skipped++;
        continue;
      }
      if (b.getRevision() != expected) {
        throw gap(b.getRevision(), expected);
      }
      if (b.getEpoch() < epoch) {
        throw MeridianException.of(
            Error.Code.FENCED,
            "batch at revision %d is from epoch %d (expected: >= %d, the standby's epoch; its"
                + " source was fenced)",
            b.getRevision(),
            b.getEpoch(),
            epoch);
      }
      ByteString computed = ChangeJournal.chain(chain, b.getRevision(), b.getOpsList());
      if (!computed.equals(b.getChainHash())) {
        throw mismatch(b, "does not extend the standby's chain (expected " + hex(computed) + ")");
      }
      for (ChangeOp op : b.getOpsList()) {
        checkOp(b.getRevision(), op);
      }
      chain = computed;
      epoch = b.getEpoch();
      expected++;
    }
    return skipped;
  }

  /** A resent batch must be the one applied at its revision, when that is still retained. */
  private void checkDuplicate(ChangeBatch b) {
    if (b.getRevision() < core.journal().first()) {
      return;
    }
    ChangeBatch applied = core.journal().from(b.getRevision(), 1).get(0);
    if (!applied.equals(b)) {
      throw mismatch(
          b, "differs from the batch applied there (" + hex(applied.getChainHash()) + ")");
    }
  }

  private void checkOp(long revision, ChangeOp op) {
    switch (op.getOpCase()) {
      case PUT -> {
        KeyValue kv = op.getPut();
        KeyPath.checkReadable(kv.getKey());
        if (kv.getModRevision() != revision) {
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "batch at revision %d puts %s at revision %d",
              revision,
              kv.getKey(),
              kv.getModRevision());
        }
      }
      case DELETE -> KeyPath.checkReadable(op.getDelete());
      case LEASE_GRANT -> {
        LeaseId.check(op.getLeaseGrant().getId(), core.shard());
        KeyPath.checkNamespace(op.getLeaseGrant().getNamespace());
      }
      case LEASE_END -> LeaseId.check(op.getLeaseEnd(), core.shard());
      case OP_NOT_SET ->
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "batch at revision %d: an op with nothing set",
              revision);
    }
  }

  /** Applies one op of an authentic batch (its chain hash matched) at the batch's revision. */
  private void applyOp(ChangeOp op, Batch batch) {
    switch (op.getOpCase()) {
      case PUT -> {
        KeyValue kv = op.getPut();
        keys.putKey(batch, kv.getKey(), kv.getValue(), kv.getLease());
      }
      case DELETE -> keys.deleteKey(batch, op.getDelete(), LockEvent.Reason.RELEASED);
      case LEASE_GRANT -> {
        long id = op.getLeaseGrant().getId();
        leases.grantLease(
            batch, op.getLeaseGrant().getNamespace(), op.getLeaseGrant().getTtlMs(), id);
        // After a promotion, new leases must not reuse the primary's ids.
        core.setNextLeaseSeq(Math.max(core.nextLeaseSeq(), LeaseId.sequenceOf(id)));
      }
      case LEASE_END -> {
        if (leaseTable.contains(op.getLeaseEnd())) {
          leases.endLease(batch, op.getLeaseEnd());
        }
      }
      case OP_NOT_SET -> throw new IllegalStateException("checked before applying");
    }
  }

  public CommandResult reportShipped(ReportShippedRequest req) {
    long revision = req.getShipped().getRevision();
    if (revision < 0 || revision > core.revision()) {
      throw MeridianException.of(
          Error.Code.FUTURE_REVISION,
          "shipped revision: %d (expected: 0..%d, the shard's revision)",
          revision,
          core.revision());
    }
    core.setShippedRevision(Math.max(core.shippedRevision(), revision));
    core.setLastReportMs(core.now());
    return CommandResult.newBuilder()
        .setReportShipped(
            ReportShippedResponse.newBuilder().setHeader(core.header()).setState(state(core)))
        .build();
  }

  public static ReplicationState state(StateCore core) {
    return ReplicationState.newBuilder()
        .setRevision(core.revision())
        .setChainHash(core.journal().chainHash())
        .setCommitTimeMs(core.journal().commitTimeMs())
        .setShippedRevision(core.shippedRevision())
        .setSource(core.source())
        .setLag(core.lag())
        .build();
  }

  private static MeridianException gap(long revision, long expected) {
    return new MeridianException(
        Error.Code.REVISION_GAP,
        String.format(
            "batch revision %d (expected: %d; batches apply in order, none skipped)",
            revision, expected),
        Map.of("applied_revision", Long.toString(expected - 1)));
  }

  private static MeridianException mismatch(ChangeBatch b, String why) {
    return MeridianException.of(
        Error.Code.CHAIN_MISMATCH,
        "batch at revision %d with chain hash %s %s",
        b.getRevision(),
        hex(b.getChainHash()),
        why);
  }

  private static String hex(ByteString hash) {
    return HexFormat.of().formatHex(hash.toByteArray(), 0, Math.min(8, hash.size()));
  }
}
