package io.meridian.cluster.backup;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.api.v1.SourcePosition;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.SetRole;
import io.meridian.cluster.state.ShardState;
import java.util.HashMap;
import java.util.Map;

/**
 * Rolls a verified snapshot forward with the shard's shipped change batches: the core of a
 * point-in-time restore.
 *
 * <p>Each batch after the snapshot's revision is applied as its own {@code ApplyReplicated}
 * command, the way a STANDBY applies what its bridge sends, so every check is the standby's: the
 * batch must be the next revision ({@code REVISION_GAP}), extend the chain hash from the snapshot's
 * ({@code CHAIN_MISMATCH}) and come from an epoch no older than the state's ({@code FENCED}); a
 * newer epoch moves the state's epoch and epoch history along. A refusal names the topic offset of
 * the batch and leaves the state at the last revision applied.
 *
 * <p>Applying needs the STANDBY role; a snapshot of another role is switched to STANDBY with a
 * {@code SetRole} command at its own epoch first, and {@link #finish()} gives it its role back. Not
 * thread-safe.
 */
public final class ChangeReplay {
  private final ShardState state;
  private final SnapshotManifest snapshot;
  private final Role role;
  private long applied;
  private long lastOffset = -1;
  private long commitTimeMs;
  private boolean finished;

  /**
   * Starts from {@code snapshot}, whose state this replay then owns and changes.
   *
   * @throws MeridianException NOT_INITIALIZED for the snapshot of a shard that was never set up
   */
  public ChangeReplay(SnapshotFile.Verified snapshot) {
    this.state = snapshot.state();
    this.snapshot = snapshot.manifest();
    this.role = state.role();
    this.commitTimeMs = snapshot.manifest().getCommitTimeMs();
    if (!state.initialized()) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED,
          "the snapshot of shard %d holds a shard that was never initialized",
          state.shard());
    }
    if (role != Role.STANDBY) {
      ApplyResult r =
          state.apply(
              Command.newBuilder()
                  .setNowMs(commitTimeMs)
                  .setSetRole(SetRole.newBuilder().setRole(Role.STANDBY).setEpoch(state.epoch()))
                  .build(),
              0);
      if (r.result().hasError()) {
        throw MeridianException.fromError(r.result().getError());
      }
    }
  }

  /** The snapshot's revision: batches at or below it are in the snapshot already. */
  public long snapshotRevision() {
    return snapshot.getRevision();
  }

  /** The revision reached so far. */
  public long revision() {
    return state.revision();
  }

  /** Batches applied so far. */
  public long applied() {
    return applied;
  }

  /** The topic offset of the last batch applied; -1 before the first. */
  public long lastOffset() {
    return lastOffset;
  }

  /** The primary's commit time of the revision reached (the snapshot's before any batch). */
  public long commitTimeMs() {
    return commitTimeMs;
  }

  /**
   * Applies {@code batch}, read at {@code offset} of {@code topic} (the offset of its last record).
   *
   * @return false for a batch at or below the snapshot's revision, which is skipped unchecked
   * @throws MeridianException REVISION_GAP, CHAIN_MISMATCH, FENCED, INVALID_ARGUMENT (a batch of
   *     another shard, or one with a malformed op): the standby's refusal, its message prefixed
   *     with the topic and offset, its details with {@code topic}, {@code offset} and {@code
   *     revision}; nothing of the batch is applied
   */
  public boolean apply(ChangeBatch batch, String topic, long offset) {
    if (finished) {
      throw new IllegalStateException("replay finished");
    }
    if (batch.getRevision() <= snapshot.getRevision()) {
      return false;
    }
    ApplyResult r =
        state.apply(
            Command.newBuilder()
                .setNowMs(batch.getCommitTimeMs())
                .setApplyReplicated(
                    ApplyReplicatedRequest.newBuilder()
                        .addBatches(batch)
                        .setSource(
                            SourcePosition.newBuilder().setTopic(topic).setOffset(offset).build()))
                .build(),
            0);
    if (r.result().hasError()) {
      Error e = r.result().getError();
      Map<String, String> details = new HashMap<>(e.getDetailsMap());
      details.put("topic", topic);
      details.put("offset", Long.toString(offset));
      details.put("revision", Long.toString(batch.getRevision()));
      throw new MeridianException(
          e.getCode(),
          String.format(
              "%s offset %d, revision %d: %s (the replay stopped at revision %d)",
              topic, offset, batch.getRevision(), e.getMessage(), state.revision()),
          details);
    }
    applied += r.result().getApplyReplicated().getApplied();
    lastOffset = offset;
    commitTimeMs = batch.getCommitTimeMs();
    return true;
  }

  /** The role the restored state keeps: the snapshot's. */
  public Role role() {
    return role;
  }

  /**
   * Ends the replay: gives the state the snapshot's role back and returns it, at {@link
   * #revision()}. The state still records the topic position of the last batch applied, so a
   * standby started from it resumes its sink after that batch.
   */
  public ShardState finish() {
    if (!finished) {
      state.restoreRole(role);
      finished = true;
    }
    return state;
  }
}
