package io.meridian.cluster.watch;

import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.kv.KeyRange;
import java.util.List;

/** What a watch reads of a shard's applied state: its position and the changes it replays. */
public interface WatchedState {
  long revision();

  long epoch();

  Role role();

  /**
   * The key changes in {@code range} at revisions {@code from..to}, ordered by revision and by key
   * within a revision.
   *
   * @throws io.meridian.api.MeridianException COMPACTED if {@code from} is at or below the
   *     compaction revision
   */
  List<Change> changes(KeyRange range, long from, long to);

  /**
   * Checks that a watch may replay from {@code revision}.
   *
   * @throws io.meridian.api.MeridianException COMPACTED
   */
  void checkWatchable(long revision);

  /**
   * Checks that a caller's position (epoch, revision) lies on this shard's history.
   *
   * @throws io.meridian.api.MeridianException HISTORY_DIVERGED
   */
  void checkPosition(long epoch, long revision);
}
