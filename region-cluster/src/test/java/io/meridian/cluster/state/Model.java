package io.meridian.cluster.state;

import io.meridian.api.FencingToken;
import io.meridian.api.LeaseId;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The model of {@link ShardStateModelTest}: plain maps, one rule per line, no MVCC machinery. */
final class Model {
  long rev;
  long compactRev;
  long nextSeq;
  long lastGranted;
  final TreeMap<String, String> live = new TreeMap<>(); // key -> described version
  final Map<String, long[]> meta = new HashMap<>(); // key -> {create, mod, version, lease}
  final Map<String, String> values = new HashMap<>();
  final Map<Long, Map<String, String>> history = new HashMap<>();
  final TreeMap<Long, String> leases = new TreeMap<>();
  final Map<Long, Long> leaseTtl = new HashMap<>();
  final Map<String, List<Entry>> locks = new HashMap<>();
  // Registry instances of a/web: id -> {lease, 1 if the registry granted (owns) it}.
  final TreeMap<String, long[]> instances = new TreeMap<>();

  static final class Entry {
    final long lease;
    final boolean shared;
    final long createRev;
    long grantRev;

    Entry(long lease, boolean shared, long createRev) {
      this.lease = lease;
      this.shared = shared;
      this.createRev = createRev;
    }

    String describe() {
      return lease
          + "/"
          + (shared ? LockMode.SHARED : LockMode.EXCLUSIVE)
          + "/c"
          + createRev
          + "/g"
          + grantRev
          + "/t"
          + (grantRev == 0 ? 0 : FencingToken.of(1, grantRev))
          + (grantRev != 0 ? "/held" : "/waiting");
    }
  }

  static String describe(String value, long create, long mod, long version, long lease) {
    return value + "@" + create + "/" + mod + "/v" + version + "/l" + lease;
  }

  /** The id of the {@code index}-th live lease (1-based), or an id nobody holds. */
  long leaseAt(int index) {
    List<Long> ids = new ArrayList<>(leases.keySet());
    return index >= 1 && index <= ids.size() ? ids.get(index - 1) : LeaseId.of(Shard.SHARD, 999);
  }

  private void bump() {
    rev++;
  }

  private void record() {
    history.put(rev, new TreeMap<>(live));
  }

  private void write(String key, String value, long lease) {
    long[] old = live.containsKey(key) ? meta.get(key) : null;
    long[] now = {old == null ? rev : old[0], rev, old == null ? 1 : old[2] + 1, lease};
    meta.put(key, now);
    values.put(key, value);
    live.put(key, describe(value, now[0], now[1], now[2], now[3]));
  }

  private void remove(String key) {
    live.remove(key);
    meta.remove(key);
    values.remove(key);
  }

  Error.Code put(String key, String value, long lease) {
    if (lease != 0 && !leases.containsKey(lease)) {
      return Error.Code.LEASE_NOT_FOUND;
    }
    if (lease != 0 && !key.startsWith("/" + leases.get(lease) + "/")) {
      return Error.Code.INVALID_ARGUMENT;
    }
    bump();
    write(key, value, lease);
    record();
    return null;
  }

  Error.Code deletePrefix(String prefix, boolean exact) {
    List<String> doomed =
        live.keySet().stream()
            .filter(k -> exact ? k.equals(prefix) : k.startsWith(prefix))
            .toList();
    if (!doomed.isEmpty()) {
      bump();
      doomed.forEach(this::remove);
      record();
    }
    return null;
  }

  Error.Code txn(String cmpKey, long version, String putKey, String other, boolean deleteOther) {
    long current = live.containsKey(cmpKey) ? meta.get(cmpKey)[2] : 0;
    if (current == version) {
      if (putKey.equals(other)) {
        return Error.Code.INVALID_ARGUMENT; // written twice
      }
      bump();
      write(putKey, "t", 0);
      if (deleteOther) {
        remove(other);
      } else {
        write(other, "u", 0);
      }
      record();
    } else if (live.containsKey(putKey)) {
      bump();
      remove(putKey);
      record();
    }
    return null;
  }

  Error.Code compact(long target) {
    if (target <= compactRev) {
      return Error.Code.COMPACTED;
    }
    compactRev = target;
    history.keySet().removeIf(r -> r < target);
    return null;
  }

  Error.Code grant(String ns) {
    bump();
    lastGranted = LeaseId.of(Shard.SHARD, ++nextSeq);
    leases.put(lastGranted, ns);
    leaseTtl.put(lastGranted, 10_000L);
    record();
    return null;
  }

  Error.Code revoke(long id, boolean expire) {
    if (!leases.containsKey(id)) {
      return expire ? null : Error.Code.LEASE_NOT_FOUND;
    }
    bump();
    leases.remove(id);
    List<String> attached = live.keySet().stream().filter(k -> meta.get(k)[3] == id).toList();
    attached.forEach(this::remove);
    instances.values().removeIf(i -> i[0] == id);
    for (List<Entry> queue : locks.values()) {
      queue.removeIf(e -> e.lease == id);
      grantReady(queue);
    }
    record();
    return null;
  }

  Error.Code acquire(String lock, long lease, boolean shared, boolean wait) {
    if (!leases.containsKey(lease)) {
      return Error.Code.LEASE_NOT_FOUND;
    }
    if (!leases.get(lease).equals("a")) {
      return Error.Code.INVALID_ARGUMENT;
    }
    List<Entry> queue = locks.computeIfAbsent(lock, l -> new ArrayList<>());
    if (queue.stream().anyMatch(e -> e.lease == lease)) {
      return null;
    }
    boolean grantable = shared ? queue.stream().allMatch(e -> e.shared) : queue.isEmpty();
    if (!grantable && !wait) {
      return Error.Code.LOCK_TIMEOUT;
    }
    bump();
    Entry e = new Entry(lease, shared, rev);
    e.grantRev = grantable ? rev : 0;
    queue.add(e);
    record();
    return null;
  }

  Error.Code release(String lock, long lease) {
    List<Entry> queue = locks.getOrDefault(lock, new ArrayList<>());
    if (!queue.removeIf(e -> e.lease == lease)) {
      return Error.Code.LOCK_NOT_HELD;
    }
    bump();
    grantReady(queue);
    record();
    return null;
  }

  /** Whether no user key, lock entry or instance is attached to lease {@code id}. */
  private boolean unused(long id) {
    return live.keySet().stream().noneMatch(k -> meta.get(k)[3] == id)
        && locks.values().stream().flatMap(List::stream).noneMatch(e -> e.lease == id)
        && instances.values().stream().noneMatch(i -> i[0] == id);
  }

  /** Registers a/web/{@code id} with a TTL ({@code given} 0) or bound to lease {@code given}. */
  Error.Code register(String id, long ttlMs, long given) {
    if (given != 0 && !leases.containsKey(given)) {
      return Error.Code.LEASE_NOT_FOUND;
    }
    if (given != 0 && !leases.get(given).equals("a")) {
      return Error.Code.INVALID_ARGUMENT;
    }
    long[] cur = instances.get(id);
    boolean ownedBefore = cur != null && cur[1] == 1;
    long lease;
    boolean owns;
    if (given != 0) {
      lease = given;
      owns = ownedBefore && cur[0] == given;
    } else if (ownedBefore && leaseTtl.get(cur[0]) == ttlMs) {
      lease = cur[0];
      owns = true;
    } else {
      lease = 0;
      owns = true;
    }
    if (cur != null && cur[0] == lease && ownedBefore == owns) {
      return null; // the same value: nothing written
    }
    bump();
    if (lease == 0) {
      lease = LeaseId.of(Shard.SHARD, ++nextSeq);
      leases.put(lease, "a");
      leaseTtl.put(lease, ttlMs);
    }
    instances.put(id, new long[] {lease, owns ? 1 : 0});
    if (ownedBefore && cur[0] != lease && unused(cur[0])) {
      leases.remove(cur[0]);
    }
    record();
    return null;
  }

  Error.Code deregister(String id) {
    long[] cur = instances.remove(id);
    if (cur != null) {
      bump();
      if (cur[1] == 1 && unused(cur[0])) {
        leases.remove(cur[0]);
      }
      record();
    }
    return null;
  }

  private void grantReady(List<Entry> queue) {
    for (int i = 0; i < queue.size(); i++) {
      Entry e = queue.get(i);
      if (!e.shared && i > 0) {
        return;
      }
      if (e.grantRev == 0) {
        e.grantRev = rev;
      }
      if (!e.shared) {
        return;
      }
    }
  }
}
