package io.meridian.cluster.lock;

import com.google.protobuf.InvalidProtocolBufferException;
import io.meridian.api.KeyPath;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LockMode;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.kv.KeyIndex;
import io.meridian.cluster.kv.LockTokens;
import io.meridian.cluster.proto.LockWaiterValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The lock queues of one shard: a derived index over the lock keys of the key-value store.
 *
 * <p>Locks follow etcd's recipe: every waiter or holder of lock {@code /ns/a/b} with lease L is a
 * key attached to L,
 *
 * <pre>
 *   /ns/.meridian/locks/a/b/000100000000002a
 *   \_____________________/\_/\______________/
 *    reservedPrefix(ns)    name   lease, 16 hex digits
 *                          rest
 * </pre>
 *
 * whose value is a {@link LockWaiterValue}. A lock's queue is its keys ordered by create revision
 * (first come, first served). The first waiter is granted if EXCLUSIVE; a SHARED waiter is granted
 * when every waiter ahead of it is SHARED. Granted entries carry a fencing token and grant revision
 * in their value. This class only mirrors the keys ({@link #upsert}, {@link #remove}) and answers
 * queue questions; the caller writes the keys. Not thread-safe.
 */
public final class LockTable implements KeyIndex, LockTokens {
  /** The reserved kind under which lock keys live. */
  public static final String KIND = "locks";

  private static final int LEASE_HEX_DIGITS = 16;

  private final TreeMap<String, List<Waiter>> queues = new TreeMap<>(KeyPath.ORDER);
  private long holders;
  private long waiters;

  /** One waiter or holder, as mirrored from its key. */
  public record Waiter(
      String name, long lease, String key, long createRevision, LockWaiterValue value) {
    public boolean granted() {
      return value.getGrantRevision() != 0;
    }
  }

  /** A lock key decoded: the lock's name and the lease. */
  public record LockRef(String name, long lease) {}

  /**
   * Checks a lock name: a writable key path with at least one non-empty segment after the namespace
   * and no empty segment.
   *
   * @throws MeridianException INVALID_ARGUMENT, KEY_TOO_LARGE or RESERVED_KEY
   */
  public static void checkName(String name) {
    KeyPath.checkWritable(name);
    String ns = KeyPath.namespaceOf(name);
    String rest = name.length() > ns.length() + 2 ? name.substring(ns.length() + 2) : "";
    if (rest.isEmpty() || rest.endsWith("/") || rest.contains("//")) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lock: %s (expected: a key path with a name after the namespace, as in /team-a/jobs)",
          KeyPath.abbreviate(name));
    }
    int keyBytes = KeyPath.utf8Length(keyOf(name, 1));
    if (keyBytes > Limits.MAX_KEY_BYTES) {
      throw MeridianException.of(
          Error.Code.KEY_TOO_LARGE,
          "lock: %s (its waiter keys would be %d bytes, expected: <= %d)",
          KeyPath.abbreviate(name),
          keyBytes,
          Limits.MAX_KEY_BYTES);
    }
  }

  /** The key of (name, lease). The name must be valid. */
  public static String keyOf(String name, long lease) {
    String ns = KeyPath.namespaceOf(name);
    String rest = name.substring(ns.length() + 2);
    return KeyPath.reservedPrefix(ns, KIND) + rest + "/" + String.format("%016x", lease);
  }

  /** Decodes a lock key, or returns null for any other key. */
  public static LockRef parseKey(String key) {
    if (!KeyPath.isReserved(key)) {
      return null;
    }
    String ns = KeyPath.namespaceOf(key);
    String prefix = KeyPath.reservedPrefix(ns, KIND);
    int slash = key.lastIndexOf('/');
    if (!key.startsWith(prefix)
        || slash <= prefix.length()
        || key.length() - slash - 1 != LEASE_HEX_DIGITS) {
      return null;
    }
    long lease = Long.parseUnsignedLong(key.substring(slash + 1), 16);
    return new LockRef("/" + ns + "/" + key.substring(prefix.length(), slash), lease);
  }

  /** The parent of a hierarchical lock ({@code /ns/a/b} -> {@code /ns/a}), or null. */
  public static String parentOf(String name) {
    String ns = KeyPath.namespaceOf(name);
    int slash = name.lastIndexOf('/');
    return slash <= ns.length() + 1 ? null : name.substring(0, slash);
  }

  @Override
  public void put(Batch batch, KeyValue now, KeyValue prev) {
    LockRef ref = parseKey(now.getKey());
    if (ref != null) {
      upsert(ref, now);
    }
  }

  /** A lock key that leaves its queue reports why, so waiting acquires learn of it. */
  @Override
  public void delete(Batch batch, KeyValue prev, LockEvent.Reason reason) {
    LockRef ref = parseKey(prev.getKey());
    if (ref != null && remove(ref) != null) {
      batch.lockEvents.add(new LockEvent.Removed(ref.name(), ref.lease(), reason, batch.revision));
    }
  }

  @Override
  public void checkLockName(String name) {
    checkName(name);
  }

  /** Mirrors a written lock key (created, or rewritten when granted). */
  public void upsert(LockRef ref, KeyValue kv) {
    LockWaiterValue value;
    try {
      value = LockWaiterValue.parseFrom(kv.getValue());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt lock key " + kv.getKey(), e);
    }
    Waiter w = new Waiter(ref.name(), ref.lease(), kv.getKey(), kv.getCreateRevision(), value);
    List<Waiter> queue = queues.computeIfAbsent(ref.name(), n -> new ArrayList<>());
    int index = indexOf(queue, ref.lease());
    if (index >= 0) {
      count(queue.get(index), -1);
      queue.set(index, w);
    } else {
      // New keys have the newest create revision, except on snapshot load where keys arrive in
      // key order: insert sorted either way.
      int at = queue.size();
      while (at > 0 && queue.get(at - 1).createRevision() > w.createRevision()) {
        at--;
      }
      queue.add(at, w);
    }
    count(w, 1);
  }

  /** Mirrors a deleted lock key. */
  public Waiter remove(LockRef ref) {
    List<Waiter> queue = queues.get(ref.name());
    int index = queue == null ? -1 : indexOf(queue, ref.lease());
    if (index < 0) {
      return null;
    }
    Waiter w = queue.remove(index);
    count(w, -1);
    if (queue.isEmpty()) {
      queues.remove(ref.name());
    }
    return w;
  }

  private void count(Waiter w, int delta) {
    if (w.granted()) {
      holders += delta;
    } else {
      waiters += delta;
    }
  }

  private static int indexOf(List<Waiter> queue, long lease) {
    for (int i = 0; i < queue.size(); i++) {
      if (queue.get(i).lease() == lease) {
        return i;
      }
    }
    return -1;
  }

  /** The entry of (name, lease), or null. */
  public Waiter find(String name, long lease) {
    List<Waiter> queue = queues.get(name);
    int index = queue == null ? -1 : indexOf(queue, lease);
    return index < 0 ? null : queue.get(index);
  }

  /** The queue of {@code name} in service order (empty if free). */
  public List<Waiter> queue(String name) {
    return List.copyOf(queues.getOrDefault(name, List.of()));
  }

  /** Every granted entry, by lock name (KeyPath order), each lock's in queue order. */
  public List<Waiter> allHolders() {
    List<Waiter> out = new ArrayList<>();
    for (List<Waiter> queue : queues.values()) {
      for (Waiter w : queue) {
        if (w.granted()) {
          out.add(w);
        }
      }
    }
    return out;
  }

  /** Whether a new waiter in {@code mode} appended to the queue would be granted at once. */
  public boolean grantableIfAppended(String name, LockMode mode) {
    List<Waiter> queue = queues.getOrDefault(name, List.of());
    if (mode == LockMode.SHARED) {
      return queue.stream().allMatch(w -> w.value().getMode() == LockMode.SHARED);
    }
    return queue.isEmpty();
  }

  /** Waiters of {@code name} that the FIFO rules grant now but are not granted yet. */
  public List<Waiter> grantable(String name) {
    List<Waiter> out = new ArrayList<>();
    List<Waiter> queue = queues.getOrDefault(name, List.of());
    for (int i = 0; i < queue.size(); i++) {
      Waiter w = queue.get(i);
      boolean exclusive = w.value().getMode() != LockMode.SHARED;
      if (exclusive && i > 0) {
        break;
      }
      if (!w.granted()) {
        out.add(w);
      }
      if (exclusive) {
        break;
      }
    }
    return out;
  }

  /** The largest fencing token among the holders of {@code name}, 0 when free. */
  @Override
  public long maxHolderToken(String name) {
    long max = 0;
    for (Waiter w : queues.getOrDefault(name, List.of())) {
      max = Math.max(max, w.value().getFencingToken());
    }
    return max;
  }

  /** Whether some current holder of {@code name} holds {@code token}. */
  @Override
  public boolean heldWithToken(String name, long token) {
    for (Waiter w : queues.getOrDefault(name, List.of())) {
      if (w.granted() && w.value().getFencingToken() == token) {
        return true;
      }
    }
    return false;
  }

  /**
   * Not-yet-granted waiters with a deadline at or before {@code nowMs}, by name, in queue order.
   */
  public List<Waiter> waitersPastDeadline(long nowMs) {
    List<Waiter> out = new ArrayList<>();
    for (Map.Entry<String, List<Waiter>> e : queues.entrySet()) {
      for (Waiter w : e.getValue()) {
        long deadline = w.value().getDeadlineMs();
        if (!w.granted() && deadline != 0 && deadline <= nowMs) {
          out.add(w);
        }
      }
    }
    return out;
  }

  public long holders() {
    return holders;
  }

  public long waiters() {
    return waiters;
  }
}
