package io.meridian.cluster.state;

import com.google.protobuf.ByteString;
import io.meridian.api.FencingToken;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.ResetFromSnapshotResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.internal.StagedReset;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.ResetBegin;
import io.meridian.cluster.proto.ResetEnd;
import io.meridian.cluster.proto.ResetPart;
import java.io.IOException;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * An online reset of a FENCED or STANDBY shard from another cluster's snapshot, in three commands
 * of the log: {@code ResetBegin} opens a staging (dropping an unfinished one), {@code ResetPart}s
 * append the body in order, {@code ResetEnd} checks the body's SHA-256 and size, decodes it as a
 * snapshot restore does and returns the state that replaces the shard's, all at that one log index.
 * Every member applies the same bytes in the same order, and the staging is part of the state (and
 * of its snapshots), so members agree at every index.
 *
 * <p>The state swapped in is the snapshot's, {@linkplain ShardState#restored() restored}: history
 * before its revision compacted, its epoch history, chain hash and source position kept, its role
 * STANDBY at the end's epoch. What belongs to this cluster rather than to the shard's data stays
 * this cluster's: the Raft term of its last leader start (its terms go on), its limits (quota and
 * dedup capacity: its config) and its region operation records (a rejoin in progress is recorded
 * here).
 */
final class SnapshotReset {
  /** The largest part: under the Raft request and entry limit with room to spare. */
  static final int MAX_PART_BYTES = 1 << 20;

  private SnapshotReset() {}

  static CommandResult begin(StateCore core, ResetBegin begin) {
    requireResettable(core);
    if (begin.getResetId().isEmpty()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "reset_id: empty (expected: the reset's id)");
    }
    SnapshotManifest manifest = begin.getManifest();
    if (manifest.getShard() != core.shard()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "manifest.shard: %d (expected: %d, this replica's shard)",
          manifest.getShard(),
          core.shard());
    }
    core.setStagedReset(StagedReset.begin(begin.getResetId(), manifest, core.now()));
    return ack();
  }

  static CommandResult part(StateCore core, ResetPart part) {
    StagedReset staged = staged(core, part.getResetId());
    if (part.getSeq() != staged.parts().size()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "seq: %d (expected: %d, the next part of reset %s)",
          part.getSeq(),
          staged.parts().size(),
          staged.resetId());
    }
    if (part.getData().size() > MAX_PART_BYTES) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "data: %d bytes (expected: <= %d)",
          part.getData().size(),
          MAX_PART_BYTES);
    }
    core.setStagedReset(staged.plus(part.getData()));
    return ack();
  }

  /** Drops the staging named by {@code end}, which asks to abandon it. */
  static CommandResult abandon(StateCore core, ResetEnd end) {
    staged(core, end.getResetId());
    core.setStagedReset(null);
    return ack();
  }

  /**
   * Checks and decodes the staged body and returns the tables that replace the shard's; the staging
   * is dropped either way.
   *
   * @throws MeridianException INVALID_ARGUMENT for a bad role or epoch or a body that does not
   *     match or decode (the staging dropped), FAILED_PRECONDITION for a PRIMARY or no such staging
   */
  static Tables end(StateCore core, ResetEnd end) {
    StagedReset staged = staged(core, end.getResetId());
    // Whatever follows, this staging is over: a retry starts with a new ResetBegin.
    core.setStagedReset(null);
    requireResettable(core);
    SnapshotManifest manifest = staged.manifest();
    if (end.getRole() != Role.STANDBY) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "role: %s (expected: STANDBY)", end.getRole());
    }
    if (end.getEpoch() < manifest.getEpoch() || end.getEpoch() > FencingToken.MAX_EPOCH) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "epoch: %d (expected: %d..%d, at least the snapshot's epoch)",
          end.getEpoch(),
          manifest.getEpoch(),
          FencingToken.MAX_EPOCH);
    }
    checkBody(staged, end);
    Tables next = decode(staged);
    StateCore fresh = next.core();
    checkDecoded(core, manifest, next);
    ShardState.compactHistory(next);
    fresh.setStagedReset(null);
    fresh.setInitialized(true);
    fresh.setLeaderTerm(core.leaderTerm());
    fresh.applySettings(core.settings());
    fresh.setOpenOperation(core.openOperation());
    fresh.setFinishedOperations(core.finishedOperations());
    // As SetRole to a standby role: the snapshot's primary state (its write authority, a
    // promotion's wait) is not the standby's.
    fresh.setRole(Role.STANDBY);
    fresh.setWriteAuthorityLost("");
    fresh.setPromotionWait(null);
    if (end.getEpoch() > fresh.epoch()) {
      fresh.setEpoch(end.getEpoch());
      fresh
          .epochHistory()
          .add(
              EpochStart.newBuilder()
                  .setEpoch(end.getEpoch())
                  .setStartRevision(fresh.revision() + 1)
                  .build());
    }
    fresh.setNow(core.now());
    return next;
  }

  /** What ResetEnd answers, from the state it swapped in. */
  static CommandResult ended(StateCore core, SnapshotManifest manifest, ResetEnd end) {
    return CommandResult.newBuilder()
        .setResetFromSnapshot(
            ResetFromSnapshotResponse.newBuilder()
                .setHeader(core.header())
                .setManifest(
                    manifest.toBuilder()
                        .setBodySha256(end.getBodySha256())
                        .setBodyBytes(end.getBodyBytes())))
        .build();
  }

  private static void checkBody(StagedReset staged, ResetEnd end) {
    if (staged.bytes() != end.getBodyBytes()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body_bytes: %d (expected: %d, the bytes staged for reset %s); the reset is dropped",
          end.getBodyBytes(),
          staged.bytes(),
          staged.resetId());
    }
    MessageDigest sha = SnapshotCodec.sha256();
    for (ByteString part : staged.parts()) {
      sha.update(part.asReadOnlyByteBuffer());
    }
    ByteString computed = ByteString.copyFrom(sha.digest());
    if (!computed.equals(end.getBodySha256())) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body_sha256: %s (expected: %s, the SHA-256 of the bytes staged for reset %s); the"
              + " reset is dropped",
          hex(end.getBodySha256()),
          hex(computed),
          staged.resetId());
    }
  }

  private static Tables decode(StagedReset staged) {
    try {
      return SnapshotCodec.read(ByteString.copyFrom(staged.parts()).newInput());
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body: not a snapshot (%s); the reset is dropped",
          e.getMessage());
    }
  }

  /** The decoded state must be the one the manifest describes. */
  private static void checkDecoded(StateCore core, SnapshotManifest manifest, Tables next) {
    StateCore decoded = next.core();
    if (decoded.shard() != core.shard()) {
      throw mismatch("shard", decoded.shard(), core.shard());
    }
    if (decoded.revision() != manifest.getRevision()) {
      throw mismatch("revision", decoded.revision(), manifest.getRevision());
    }
    if (!decoded.initialized()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body: a snapshot of an uninitialized shard; the reset is dropped");
    }
    if (!manifest.getChainHash().isEmpty()
        && !manifest.getChainHash().equals(decoded.journal().chainHash())) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body: chain hash %s (expected: %s, the manifest's); the reset is dropped",
          hex(decoded.journal().chainHash()),
          hex(manifest.getChainHash()));
    }
    if (!manifest.getStateHash().isEmpty()) {
      ByteString content =
          ByteString.copyFrom(SnapshotCodec.content(SnapshotCodec.freeze(next)).hash());
      if (!content.equals(manifest.getStateHash())) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "body: content hash %s (expected: %s, the manifest's state_hash); the reset is"
                + " dropped",
            hex(content),
            hex(manifest.getStateHash()));
      }
    }
  }

  private static MeridianException mismatch(String field, long actual, long expected) {
    return MeridianException.of(
        Error.Code.INVALID_ARGUMENT,
        "body: %s %d (expected: %d); the reset is dropped",
        field,
        actual,
        expected);
  }

  private static void requireResettable(StateCore core) {
    if (!core.initialized()) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED, "shard %d: not initialized yet", core.shard());
    }
    if (core.role() != Role.FENCED && core.role() != Role.STANDBY) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "shard %d: this region cluster is %s (expected: FENCED or STANDBY; a reset drops the"
              + " shard's state: fence it first)",
          core.shard(),
          core.role());
    }
  }

  private static StagedReset staged(StateCore core, String resetId) {
    StagedReset staged = core.stagedReset();
    if (staged == null || !staged.resetId().equals(resetId)) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "reset_id: %s (expected: %s)",
          resetId,
          staged == null ? "a reset begun with ResetBegin; none is staged" : staged.resetId());
    }
    return staged;
  }

  private static String hex(ByteString bytes) {
    return HexFormat.of().formatHex(bytes.toByteArray());
  }

  private static CommandResult ack() {
    return CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();
  }
}
