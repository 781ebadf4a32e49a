package io.meridian.cluster.kv;

import com.google.protobuf.ByteString;
import io.meridian.api.KeyPath;
import io.meridian.api.v1.KeyValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.pcollections.PVector;
import org.pcollections.TreePMap;
import org.pcollections.TreePVector;

/**
 * The multi-version key-value store of one shard, with etcd v3 semantics.
 *
 * <p>Each key keeps its retained versions oldest first. A version is a {@link KeyValue}; a deletion
 * is a tombstone version ({@code create_revision == 0}, {@code mod_revision} = the deleting
 * revision). Reading at revision R returns, per key, the newest version with {@code mod_revision <=
 * R} unless it is a tombstone. Compaction at R drops every version superseded at or before R, so
 * reads at any revision >= R keep returning the same answer.
 *
 * <p>The store does not assign revisions and does not validate: callers pass the revision of the
 * command being applied and have checked keys, values and quotas. Not thread-safe.
 */
public final class MvccStore {
  /** Fixed per-version overhead counted by the quota, as etcd counts its index entries. */
  public static final long VERSION_OVERHEAD_BYTES = 64;

  private TreePMap<String, PVector<KeyValue>> keys = TreePMap.empty(KeyPath.ORDER);
  private long bytes;
  private long liveKeys;

  /** The quota cost of one retained version. */
  public static long versionBytes(String key, int valueLength) {
    return KeyPath.utf8Length(key) + (long) valueLength + VERSION_OVERHEAD_BYTES;
  }

  /** Whether {@code kv} is a deletion marker. */
  public static boolean isTombstone(KeyValue kv) {
    return kv.getCreateRevision() == 0;
  }

  /** The current version of {@code key}, or null when it does not exist. */
  public KeyValue current(String key) {
    PVector<KeyValue> versions = keys.get(key);
    if (versions == null) {
      return null;
    }
    KeyValue last = versions.get(versions.size() - 1);
    return isTombstone(last) ? null : last;
  }

  /** The version of {@code key} visible at {@code revision}, or null. */
  public KeyValue at(String key, long revision) {
    PVector<KeyValue> versions = keys.get(key);
    return versions == null ? null : visible(versions, revision);
  }

  private static KeyValue visible(List<KeyValue> versions, long revision) {
    for (int i = versions.size() - 1; i >= 0; i--) {
      KeyValue kv = versions.get(i);
      if (kv.getModRevision() <= revision) {
        return isTombstone(kv) ? null : kv;
      }
    }
    return null;
  }

  /**
   * Writes a new version of {@code key} at {@code revision}: created (version 1) if it does not
   * exist, else the same create revision and version + 1.
   *
   * @return the version written
   */
  public KeyValue put(String key, ByteString value, long lease, long revision) {
    KeyValue prev = current(key);
    KeyValue kv =
        KeyValue.newBuilder()
            .setKey(key)
            .setCreateRevision(prev == null ? revision : prev.getCreateRevision())
            .setModRevision(revision)
            .setVersion(prev == null ? 1 : prev.getVersion() + 1)
            .setValue(value)
            .setLease(lease)
            .build();
    append(kv);
    if (prev == null) {
      liveKeys++;
    }
    return kv;
  }

  /**
   * Deletes {@code key} at {@code revision} by appending a tombstone.
   *
   * @return the deleted version, or null (and no change) when the key did not exist
   */
  public KeyValue delete(String key, long revision) {
    KeyValue prev = current(key);
    if (prev == null) {
      return null;
    }
    append(KeyValue.newBuilder().setKey(key).setModRevision(revision).build());
    liveKeys--;
    return prev;
  }

  private void append(KeyValue kv) {
    PVector<KeyValue> versions = keys.get(kv.getKey());
    keys = keys.plus(kv.getKey(), versions == null ? TreePVector.singleton(kv) : versions.plus(kv));
    bytes += versionBytes(kv.getKey(), kv.getValue().size());
  }

  /** Every key of {@code range} visible at {@code revision}, in key order. */
  public List<KeyValue> range(KeyRange range, long revision) {
    List<KeyValue> out = new ArrayList<>();
    if (range.single()) {
      KeyValue kv = at(range.start(), revision);
      if (kv != null) {
        out.add(kv);
      }
      return out;
    }
    for (Map.Entry<String, PVector<KeyValue>> e : keys.tailMap(range.start(), true).entrySet()) {
      if (range.isPast(e.getKey())) {
        break;
      }
      if (range.contains(e.getKey())) {
        KeyValue kv = visible(e.getValue(), revision);
        if (kv != null) {
          out.add(kv);
        }
      }
    }
    return out;
  }

  /** Receives one retained version and the version it replaced (null if none was retained). */
  @FunctionalInterface
  public interface VersionVisitor {
    void visit(KeyValue version, KeyValue replaced);
  }

  /**
   * Visits every retained version of the keys of {@code range} written at revisions {@code
   * from..to} (inclusive), key by key in key order, each key's versions oldest first. What a watch
   * replays: a tombstone is a deletion. Versions above a compaction are all retained, and so is the
   * version each of them replaced.
   */
  public void versions(KeyRange range, long from, long to, VersionVisitor visitor) {
    Iterable<? extends Map.Entry<String, PVector<KeyValue>>> scan =
        range.single()
            ? (keys.containsKey(range.start())
                ? List.of(Map.entry(range.start(), keys.get(range.start())))
                : List.of())
            : keys.tailMap(range.start(), true).entrySet();
    for (Map.Entry<String, PVector<KeyValue>> e : scan) {
      if (range.isPast(e.getKey())) {
        break;
      }
      if (!range.contains(e.getKey())) {
        continue;
      }
      List<KeyValue> versions = e.getValue();
      for (int i = 0; i < versions.size(); i++) {
        KeyValue kv = versions.get(i);
        if (kv.getModRevision() >= from && kv.getModRevision() <= to) {
          visitor.visit(kv, i == 0 ? null : versions.get(i - 1));
        }
      }
    }
  }

  /** The current versions of the keys of {@code range}, in key order. */
  public List<KeyValue> currentRange(KeyRange range) {
    return range(range, Long.MAX_VALUE);
  }

  /**
   * Drops, per key, every version superseded at or before {@code revision}: the newest version with
   * {@code mod_revision <= revision} is kept unless it is a tombstone, older ones go.
   */
  public void compact(long revision) {
    TreePMap<String, PVector<KeyValue>> next = keys;
    for (Map.Entry<String, PVector<KeyValue>> e : keys.entrySet()) {
      PVector<KeyValue> versions = e.getValue();
      int newest = -1;
      for (int i = versions.size() - 1; i >= 0; i--) {
        if (versions.get(i).getModRevision() <= revision) {
          newest = i;
          break;
        }
      }
      if (newest < 0) {
        continue;
      }
      int drop = isTombstone(versions.get(newest)) ? newest + 1 : newest;
      if (drop == 0) {
        continue;
      }
      for (KeyValue kv : versions.subList(0, drop)) {
        bytes -= versionBytes(kv.getKey(), kv.getValue().size());
      }
      next =
          drop == versions.size()
              ? next.minus(e.getKey())
              : next.plus(e.getKey(), versions.subList(drop, versions.size()));
    }
    keys = next;
  }

  /** Restores one key's retained versions (oldest first), as a {@link View#forEach} visits them. */
  public void load(String key, List<KeyValue> versions) {
    if (versions.isEmpty()) {
      return;
    }
    PVector<KeyValue> copy = TreePVector.from(versions);
    keys = keys.plus(key, copy);
    for (KeyValue kv : copy) {
      bytes += versionBytes(key, kv.getValue().size());
    }
    if (!isTombstone(copy.get(copy.size() - 1))) {
      liveKeys++;
    }
  }

  /**
   * The store as it is now, unchanged by later writes: safe to read from any thread while this
   * store goes on being written. O(1).
   */
  public View view() {
    return new View(keys);
  }

  /** A frozen copy of the store's keys and their retained versions. */
  public static final class View {
    private final TreePMap<String, PVector<KeyValue>> keys;

    private View(TreePMap<String, PVector<KeyValue>> keys) {
      this.keys = keys;
    }

    /** Number of keys with retained history. */
    public int historyCount() {
      return keys.size();
    }

    /** Visits every key with its retained versions (oldest first), in key order. */
    public void forEach(BiConsumer<String, List<KeyValue>> visitor) {
      keys.forEach(visitor::accept);
    }
  }

  /** Number of keys with retained history (live or tombstoned). */
  public int historyCount() {
    return keys.size();
  }

  /** Number of keys that currently exist. */
  public long liveKeys() {
    return liveKeys;
  }

  /** The quota cost of every retained version. */
  public long bytes() {
    return bytes;
  }
}
