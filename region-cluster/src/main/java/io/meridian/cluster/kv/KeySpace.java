package io.meridian.cluster.kv;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.LockEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * The shard's keys: the revisioned store and the two writes every domain's commands go through, so
 * the derived indexes ({@link KeyIndex}) and the batch's change list never drift from the store.
 * Commands validate first and write only once nothing can fail.
 */
public final class KeySpace {
  private final MvccStore store;
  private final List<KeyIndex> indexes = new ArrayList<>();

  public KeySpace(MvccStore store) {
    this.store = store;
  }

  /** Keeps {@code index} in step with every later write. */
  public void index(KeyIndex index) {
    indexes.add(index);
  }

  /** The store, for reads. */
  public MvccStore store() {
    return store;
  }

  /**
   * Brings every index up to {@code current}, a key version loaded from a snapshot: the indexes are
   * derived, so a snapshot does not store them.
   */
  public void reindex(KeyValue current) {
    Batch none = new Batch(current.getModRevision());
    for (KeyIndex index : indexes) {
      index.put(none, current, null);
    }
  }

  /**
   * Writes a version of {@code key} at the batch's revision, bound to {@code lease} (0: none).
   *
   * @return the version it replaced, or null
   */
  public KeyValue putKey(Batch batch, String key, ByteString value, long lease) {
    KeyValue prev = store.current(key);
    KeyValue now = store.put(key, value, lease, batch.revision);
    for (KeyIndex index : indexes) {
      index.put(batch, now, prev);
    }
    batch.changes.add(new Change.KvPut(now, prev));
    return prev;
  }

  /**
   * Deletes {@code key} if it exists; a lock key leaves its queue with {@code reason}.
   *
   * @return the deleted version, or null
   */
  public KeyValue deleteKey(Batch batch, String key, LockEvent.Reason reason) {
    KeyValue prev = store.delete(key, batch.revision);
    if (prev == null) {
      return null;
    }
    for (KeyIndex index : indexes) {
      index.delete(batch, prev, reason);
    }
    batch.changes.add(new Change.KvDelete(key, batch.revision, prev));
    return prev;
  }
}
