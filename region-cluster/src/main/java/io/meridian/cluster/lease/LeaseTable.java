package io.meridian.cluster.lease;

import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.kv.KeyIndex;
import io.meridian.cluster.kv.LeaseBinding;
import io.meridian.cluster.proto.LeaseRecord;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.pcollections.TreePMap;

/**
 * The leases of one shard and the keys attached to each.
 *
 * <p>A lease's durable facts are its {@link LeaseRecord}; the set of attached keys is derived from
 * the key-value store (every current key whose {@code lease} field names it) and rebuilt on
 * snapshot load. Expiry is not decided here: the leader proposes it with a committed command, so
 * this table has no notion of time beyond the last checkpointed remaining TTL. Not thread-safe.
 */
public final class LeaseTable implements KeyIndex, LeaseBinding {
  /** Quota cost of one lease. */
  public static final long LEASE_BYTES = 128;

  private final TreeMap<Long, Lease> leases = new TreeMap<>();
  // The records again, persistent, so a snapshot writer gets them frozen in O(1) (records()).
  private TreePMap<Long, LeaseRecord> records = TreePMap.empty();

  /** One lease: its record and its attached keys (in key order). */
  public static final class Lease {
    private LeaseRecord record;
    private final TreeSet<String> keys = new TreeSet<>(KeyPath.ORDER);

    Lease(LeaseRecord record) {
      this.record = record;
    }

    public LeaseRecord record() {
      return record;
    }

    public long id() {
      return record.getId();
    }

    public String namespace() {
      return record.getNamespace();
    }

    /** The attached keys, in key order (a read-only live view: copy before deleting them). */
    public Set<String> keys() {
      return Collections.unmodifiableSet(keys);
    }
  }

  /** Adds a lease; the id must be unused. */
  public Lease add(LeaseRecord record) {
    Lease lease = new Lease(record);
    if (leases.putIfAbsent(record.getId(), lease) != null) {
      throw new IllegalStateException("lease " + record.getId() + " exists");
    }
    records = records.plus(record.getId(), record);
    return lease;
  }

  /** The lease, or null. */
  public Lease get(long id) {
    return leases.get(id);
  }

  public boolean contains(long id) {
    return leases.containsKey(id);
  }

  /** Removes a lease; its attached keys must have been deleted by the caller. */
  public Lease remove(long id) {
    records = records.minus(id);
    return leases.remove(id);
  }

  @Override
  public void put(Batch batch, KeyValue now, KeyValue prev) {
    if (prev != null && prev.getLease() != now.getLease()) {
      detach(prev.getLease(), now.getKey());
    }
    attach(now.getLease(), now.getKey());
  }

  @Override
  public void delete(Batch batch, KeyValue prev, LockEvent.Reason reason) {
    detach(prev.getLease(), prev.getKey());
  }

  /**
   * Checks that lease {@code id} exists and belongs to {@code key}'s namespace: keys and locks of a
   * namespace may only be bound to that namespace's leases, which live on the same shard.
   */
  @Override
  public void requireLeaseOf(long id, String key) {
    Lease lease = leases.get(id);
    if (lease == null) {
      throw LeaseId.notFound(id);
    }
    String ns = KeyPath.namespaceOf(key);
    if (!lease.namespace().equals(ns)) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lease: %d belongs to namespace %s (expected: a lease of namespace %s)",
          id,
          lease.namespace(),
          ns);
    }
  }

  /** Records {@code key} as attached to {@code id} (no-op for 0). */
  public void attach(long id, String key) {
    if (id != 0) {
      leases.get(id).keys.add(key);
    }
  }

  /** Forgets {@code key} as attached to {@code id} (no-op for 0 or an unknown lease). */
  public void detach(long id, String key) {
    Lease lease = id == 0 ? null : leases.get(id);
    if (lease != null) {
      lease.keys.remove(key);
    }
  }

  /** Records the last checkpointed remaining time to live of an existing lease. */
  public void checkpoint(long id, long remainingMs) {
    Lease lease = leases.get(id);
    if (lease != null) {
      lease.record = lease.record.toBuilder().setRemainingMs(remainingMs).build();
      records = records.plus(id, lease.record);
    }
  }

  /** Every lease of {@code namespace} (every lease if empty), by id. */
  public List<Lease> list(String namespace) {
    List<Lease> out = new ArrayList<>();
    for (Lease lease : leases.values()) {
      if (namespace.isEmpty() || lease.namespace().equals(namespace)) {
        out.add(lease);
      }
    }
    return out;
  }

  /**
   * Every lease's record, by id, as of now: unchanged by later writes, safe to read from any
   * thread. O(1).
   */
  public SortedMap<Long, LeaseRecord> records() {
    return records;
  }

  /** Every lease, by id. */
  public Collection<Lease> all() {
    return leases.values();
  }

  public int size() {
    return leases.size();
  }

  /** The quota cost of every lease. */
  public long bytes() {
    return LEASE_BYTES * leases.size();
  }
}
