package io.meridian.cluster.replication;

import io.meridian.api.v1.ChangeBatch;
import java.util.List;

/** What the change feed reads of a shard's applied state: its change batches. */
public interface FeedState {
  /**
   * Up to {@code max} change batches of the revisions after position ({@code epoch}, {@code
   * after}), oldest first.
   *
   * @throws io.meridian.api.MeridianException FUTURE_REVISION, COMPACTED or HISTORY_DIVERGED
   */
  List<ChangeBatch> changeBatches(long epoch, long after, int max);
}
