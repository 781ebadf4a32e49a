package io.meridian.cluster.kv;

import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;

/**
 * A table derived from the keys (lease attachments, lock queues, registry instances) that {@link
 * KeySpace} keeps in step with every key write, so no domain's index can drift from the store.
 * Called after the store changed, in the command's batch.
 */
public interface KeyIndex {
  /** {@code now} was written; {@code prev} is the version it replaced, or null. */
  void put(Batch batch, KeyValue now, KeyValue prev);

  /** {@code prev} was deleted, for {@code reason} if it was a lock key. */
  void delete(Batch batch, KeyValue prev, LockEvent.Reason reason);
}
