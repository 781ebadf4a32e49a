package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.bridge.ChangeArchive;
import io.meridian.cluster.backup.ChangeReplay;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.state.ShardState;
import java.time.Instant;
import java.util.Optional;

/**
 * A point-in-time restore of one shard: a verified snapshot rolled forward with the batches of the
 * shard's change topic up to a target revision, or up to the last revision committed at or before a
 * target time, through {@link ChangeReplay} (the standby's own checks on every batch).
 *
 * <p>What can be reached is the snapshot's revision {@code S} up to the topic's last revision
 * {@code B}, provided the topic still holds revision {@code S + 1} (its retention may have dropped
 * it): "covers revisions S..B". A target below S is COMPACTED (an older snapshot is needed), above
 * B FUTURE_REVISION.
 */
final class PointInTimeRestore {
  private PointInTimeRestore() {}

  /** Where to stop: at a revision, or at a time. Exactly one of them is set. */
  record Target(Long revision, Long timeMs) {}

  /**
   * What a restore did, or would do.
   *
   * @param firstRevision the topic's first revision ({@code -1} for an empty topic)
   * @param firstOffset the offset of that revision's batch
   * @param lastRevision the topic's last revision ({@code -1} for an empty topic)
   * @param coveredTo the last revision the snapshot and the topic together reach
   * @param replayOffsetFrom the offset of the first batch replayed ({@code -1} if none)
   * @param replayOffsetTo the offset of the last batch replayed ({@code -1} if none)
   * @param batches how many batches were applied
   * @param state the restored state, at the target revision, with the snapshot's role
   * @param commitTimeMs the primary's commit time of the target revision
   * @param pastLastCommit a time target at or after the topic's last revision's commit time
   */
  record Plan(
      SnapshotManifest snapshot,
      String topic,
      long firstRevision,
      long firstOffset,
      long lastRevision,
      long coveredTo,
      long replayOffsetFrom,
      long replayOffsetTo,
      long batches,
      ShardState state,
      long commitTimeMs,
      boolean pastLastCommit) {
    long target() {
      return state.revision();
    }
  }

  /**
   * Restores {@code verified} in memory to {@code target} from {@code archive}.
   *
   * @throws MeridianException COMPACTED (target before the snapshot, or the topic no longer holds
   *     the revision after it), FUTURE_REVISION (target after the topic's last revision),
   *     REVISION_GAP / CHAIN_MISMATCH / FENCED (a batch the standby checks refuse, naming its
   *     revision and offset), INTERNAL (a record that is not a change record)
   */
  static Plan run(SnapshotFile.Verified verified, ChangeArchive archive, Target target) {
    SnapshotManifest snap = verified.manifest();
    Coverage cov = Coverage.of(snap.getRevision(), archive);
    if (target.revision() != null) {
      cov.checkRevision(target.revision());
    } else {
      cov.checkTime(target.timeMs(), snap.getCommitTimeMs());
    }
    ChangeReplay replay = new ChangeReplay(verified);
    long[] offsets = {-1, -1};
    long s = cov.snapshot();
    long stopAt = target.revision() != null ? target.revision() : cov.coveredTo();
    if (stopAt > s) {
      archive.read(
          s,
          snap.getCommitTimeMs(),
          a -> {
            if (a.batch().getRevision() <= s) {
              return true;
            }
            if (target.timeMs() != null && a.batch().getCommitTimeMs() > target.timeMs()) {
              return false; // The first revision committed after the time: stop before it.
            }
            replay.apply(a.batch(), archive.topic(), a.offset());
            offsets[0] = offsets[0] < 0 ? a.offset() : offsets[0];
            offsets[1] = a.offset();
            return replay.revision() < stopAt;
          });
      if (target.revision() != null && replay.revision() < stopAt) {
        throw MeridianException.of(
            Error.Code.REVISION_GAP,
            "%s ended at revision %d (offset %d) before revision %d: %s",
            archive.topic(),
            replay.revision(),
            replay.lastOffset(),
            stopAt,
            cov.covers());
      }
    }
    // Nothing committed after the time is in the topic (yet).
    boolean pastLast = target.timeMs() != null && replay.revision() == cov.coveredTo();
    long commitTime = replay.commitTimeMs();
    ShardState state = replay.finish();
    return new Plan(
        snap,
        archive.topic(),
        cov.first(),
        cov.firstOffset(),
        cov.last(),
        cov.coveredTo(),
        offsets[0],
        offsets[1],
        replay.applied(),
        state,
        commitTime,
        pastLast);
  }

  /**
   * What a snapshot at revision {@code snapshot} and the topic reach together: {@code
   * snapshot..coveredTo}; the topic's own extent is {@code first..last} ({@code -1} when empty).
   */
  private record Coverage(
      long snapshot, long first, long firstOffset, long last, long coveredTo, String covers) {
    static Coverage of(long s, ChangeArchive archive) {
      Optional<ChangeArchive.Extent> extent = archive.extent();
      long first = extent.map(e -> e.first().batch().getRevision()).orElse(-1L);
      long firstOffset = extent.map(e -> e.first().offset()).orElse(-1L);
      long last = extent.map(ChangeArchive.Extent::lastRevision).orElse(-1L);
      // The topic extends the snapshot only if it still holds revision s + 1.
      long coveredTo = extent.isPresent() && first <= s + 1 && last > s ? last : s;
      String covers =
          String.format(
              "snapshot revision %d with %s covers revisions %d..%d%s",
              s,
              archive.topic(),
              s,
              coveredTo,
              extent.isEmpty()
                  ? " (the topic holds no batch)"
                  : String.format(
                      " (the topic holds %d..%d from offset %d)", first, last, firstOffset));
      return new Coverage(s, first, firstOffset, last, coveredTo, covers);
    }

    /** Whether retention dropped revisions right after the snapshot that later ones need. */
    private boolean trimmed() {
      return last > snapshot && first > snapshot + 1;
    }

    private MeridianException trimmedError(String option) {
      return MeridianException.of(
          Error.Code.COMPACTED,
          "%s: the topic no longer holds revisions %d..%d (it starts at revision %d, offset %d;"
              + " its retention dropped the rest): %s; restore from a snapshot at revision %d or"
              + " later",
          option,
          snapshot + 1,
          first - 1,
          first,
          firstOffset,
          covers,
          first - 1);
    }

    void checkRevision(long r) {
      if (r < snapshot) {
        throw MeridianException.of(
            Error.Code.COMPACTED,
            "--to-revision %d is before the snapshot: %s; restore from an older snapshot",
            r,
            covers);
      }
      if (r > coveredTo && trimmed()) {
        throw trimmedError("--to-revision " + r);
      }
      if (r > coveredTo) {
        throw MeridianException.of(
            Error.Code.FUTURE_REVISION,
            "--to-revision %d is beyond what was shipped: %s",
            r,
            covers);
      }
    }

    void checkTime(long t, long snapshotCommitMs) {
      if (trimmed()) {
        throw trimmedError("--to-time");
      }
      if (t < snapshotCommitMs) {
        throw MeridianException.of(
            Error.Code.COMPACTED,
            "--to-time %s is before the snapshot's revision %d (committed %s): %s; restore from"
                + " an older snapshot",
            Instant.ofEpochMilli(t),
            snapshot,
            Instant.ofEpochMilli(snapshotCommitMs),
            covers);
      }
    }
  }
}
