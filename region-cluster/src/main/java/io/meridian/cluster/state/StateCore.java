package io.meridian.cluster.state;

import com.google.protobuf.ByteString;
import io.meridian.api.FencingToken;
import io.meridian.api.KeyPath;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.ReplicationLag;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SourcePosition;
import io.meridian.cluster.proto.LeaseRecord;
import io.meridian.cluster.proto.LockWaiterValue;
import io.meridian.cluster.proto.ShardSettings;
import io.meridian.cluster.state.kv.MvccStore;
import io.meridian.cluster.state.lease.LeaseTable;
import io.meridian.cluster.state.lock.LockTable;
import io.meridian.cluster.state.registry.RegistryIndex;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The whole state of a shard replica and the key-writing primitives every command uses, so the
 * derived indexes (lease attachments, lock queues, registry counts) and the change list never drift
 * from the key-value store. Command classes validate first and call these only once nothing can
 * fail.
 */
final class StateCore {
  /**
   * The settings of a shard no InitShard or SetSettings gave any: what a node's config defaults to.
   */
  static final ShardSettings DEFAULT_SETTINGS =
      ShardSettings.newBuilder().setQuotaBytes(1L << 30).setDedupCapacity(100_000).build();

  /** The smallest quota the state accepts (a node's config asks for at least 1 MiB). */
  static final long MIN_QUOTA_BYTES = 1;

  final int shard;
  final MvccStore kv = new MvccStore();
  final LeaseTable leases = new LeaseTable();
  final LockTable locks = new LockTable();
  final RegistryIndex registry = new RegistryIndex();
  final DedupTable dedup;
  final ChangeJournal journal = new ChangeJournal();

  // Cluster metadata: replicated and snapshotted, outside the revision sequence.
  ShardSettings settings = DEFAULT_SETTINGS;
  long revision;
  long compactRevision;
  Role role = Role.ROLE_UNSPECIFIED;
  long epoch;
  boolean initialized;
  long leaderTerm;
  final List<EpochStart> epochHistory = new ArrayList<>();
  long nextLeaseSeq;
  boolean noSpaceAlarm;
  boolean selfPreservation;
  // Replication: how far the bridge shipped this shard (PRIMARY), where the last applied run came
  // from (STANDBY).
  long shippedRevision;
  SourcePosition source = SourcePosition.getDefaultInstance();
  ReplicationLag lag = ReplicationLag.getDefaultInstance();

  StateCore(int shard) {
    if (shard < 0 || shard > LeaseId.MAX_SHARD) {
      throw new IllegalArgumentException("shard: " + shard + " (expected: 0..32767)");
    }
    this.shard = shard;
    this.dedup = new DedupTable(settings.getDedupCapacity());
  }

  long quotaBytes() {
    return settings.getQuotaBytes();
  }

  /**
   * Validates and takes {@code next}.
   *
   * @throws MeridianException INVALID_ARGUMENT naming the bad field, changing nothing
   */
  void applySettings(ShardSettings next) {
    if (next.getQuotaBytes() < MIN_QUOTA_BYTES) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "settings.quota_bytes: %d (expected: >= %d)",
          next.getQuotaBytes(),
          MIN_QUOTA_BYTES);
    }
    if (next.getDedupCapacity() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "settings.dedup_capacity: %d (expected: >= 0)",
          next.getDedupCapacity());
    }
    settings = next;
    dedup.setCapacity(next.getDedupCapacity());
  }

  /** What the quota counts: keys (every retained version), leases and remembered outcomes. */
  long stateBytes() {
    return kv.bytes() + leases.bytes() + dedup.bytes();
  }

  /** The response header as of the end of {@code batch}. */
  ResponseHeader header(Batch batch) {
    return ResponseHeader.newBuilder()
        .setShard(shard)
        .setRevision(batch.wrote() ? batch.revision : revision)
        .setEpoch(epoch)
        .setRole(role)
        .build();
  }

  ResponseHeader header() {
    return ResponseHeader.newBuilder()
        .setShard(shard)
        .setRevision(revision)
        .setEpoch(epoch)
        .setRole(role)
        .build();
  }

  /** Client writes need an initialized PRIMARY. */
  void requireWritable() {
    if (!initialized) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED,
          "shard %d: not initialized yet (expected: InitShard from the node's config)",
          shard);
    }
    if (role == Role.FENCED) {
      throw MeridianException.of(
          Error.Code.FENCED, "shard %d: this region cluster is fenced (epoch %d)", shard, epoch);
    }
    if (role != Role.PRIMARY) {
      throw MeridianException.of(
          Error.Code.NOT_PRIMARY,
          "shard %d: this region cluster is %s (expected: the PRIMARY region)",
          shard,
          role);
    }
  }

  /**
   * Checks that lease {@code id} exists and belongs to {@code key}'s namespace: keys and locks of a
   * namespace may only be bound to that namespace's leases, which live on the same shard.
   */
  void requireLeaseOf(long id, String key) {
    LeaseTable.Lease lease = leases.get(id);
    if (lease == null) {
      throw MeridianException.of(Error.Code.LEASE_NOT_FOUND, "lease: %d (not found)", id);
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

  /**
   * Refuses a write that grows the state by {@code growth} bytes when the alarm is on or the quota
   * would be exceeded; a refusal raises the alarm (the one state change an error makes).
   */
  void checkQuota(long growth) {
    long bytes = stateBytes();
    long quotaBytes = quotaBytes();
    if (noSpaceAlarm || bytes + growth > quotaBytes) {
      noSpaceAlarm = true;
      throw MeridianException.of(
          Error.Code.NO_SPACE,
          "shard %d: state is %d bytes, the write needs %d more, quota is %d bytes (NO_SPACE alarm"
              + " is on; run compaction or delete keys to free space)",
          shard,
          bytes,
          growth,
          quotaBytes);
    }
  }

  /** Clears the alarm once the state is at most 90 % of the quota. */
  void maybeClearAlarm() {
    long quotaBytes = quotaBytes();
    if (noSpaceAlarm && stateBytes() <= quotaBytes - quotaBytes / 10) {
      noSpaceAlarm = false;
    }
  }

  /** Writes a version of {@code key}, keeping lease attachments and lock queues in step. */
  KeyValue putKey(Batch batch, String key, ByteString value, long lease) {
    KeyValue prev = kv.current(key);
    KeyValue now = kv.put(key, value, lease, batch.revision);
    if (prev != null && prev.getLease() != lease) {
      leases.detach(prev.getLease(), key);
    }
    leases.attach(lease, key);
    LockTable.LockRef ref = LockTable.parseKey(key);
    if (ref != null) {
      locks.upsert(ref, now);
    }
    if (RegistryIndex.parseKey(key) != null) {
      registry.upsert(now);
    }
    batch.changes.add(new Change.KvPut(now, prev));
    return prev;
  }

  /**
   * Deletes {@code key} if it exists; a lock key leaves its queue with {@code reason}.
   *
   * @return the deleted version, or null
   */
  KeyValue deleteKey(Batch batch, String key, LockEvent.Reason reason) {
    KeyValue prev = kv.delete(key, batch.revision);
    if (prev == null) {
      return null;
    }
    leases.detach(prev.getLease(), key);
    LockTable.LockRef ref = LockTable.parseKey(key);
    if (ref != null && locks.remove(ref) != null) {
      batch.lockEvents.add(new LockEvent.Removed(ref.name(), ref.lease(), reason, batch.revision));
    }
    if (RegistryIndex.parseKey(key) != null) {
      registry.remove(key);
    }
    batch.changes.add(new Change.KvDelete(key, batch.revision, prev));
    return prev;
  }

  /** Grants every waiter of {@code names} that became grantable, at the batch's revision. */
  void grantReady(Batch batch, Collection<String> names) {
    Set<String> sorted = new TreeSet<>(KeyPath.ORDER);
    sorted.addAll(names);
    for (String name : sorted) {
      for (LockTable.Waiter w : locks.grantable(name)) {
        grant(batch, w.key(), w.lease(), w.value());
      }
    }
  }

  /** Writes a lock key as granted: token = (epoch, revision of the grant). */
  long grant(Batch batch, String key, long lease, LockWaiterValue waiting) {
    long token = FencingToken.of(epoch, batch.revision);
    LockWaiterValue granted =
        waiting.toBuilder().setFencingToken(token).setGrantRevision(batch.revision).build();
    putKey(batch, key, granted.toByteString(), lease);
    LockTable.LockRef ref = LockTable.parseKey(key);
    batch.lockEvents.add(new LockEvent.Granted(ref.name(), lease, token, key, batch.revision));
    return token;
  }

  /** The id the next grant without a chosen id gets: the next sequence number no lease holds. */
  long nextLeaseId() {
    long seq = nextLeaseSeq;
    long id;
    do {
      id = LeaseId.of(shard, ++seq);
    } while (leases.contains(id));
    return id;
  }

  /**
   * Grants a lease of {@code namespace} at the batch's revision: {@code id} 0 takes {@link
   * #nextLeaseId()}, else it must be an unused id of this shard. The caller validated the arguments
   * and checked the quota.
   *
   * @return the lease's id
   */
  long grantLease(Batch batch, String namespace, long ttlMs, long id) {
    if (id == 0) {
      id = nextLeaseId();
      nextLeaseSeq = LeaseId.sequenceOf(id);
    }
    LeaseRecord record =
        LeaseRecord.newBuilder()
            .setId(id)
            .setNamespace(namespace)
            .setTtlMs(ttlMs)
            .setGrantRevision(batch.revision)
            .build();
    leases.add(record);
    batch.changes.add(new Change.LeaseGranted(record));
    batch.leaseEvents.add(new LeaseEvent.Granted(id, ttlMs));
    return id;
  }

  /**
   * Whether self-preservation would keep lease {@code id} from expiring: it holds at least one
   * registry instance and no lock key (a lock's holder must lose it on time, whatever the
   * registry's renewal rate).
   */
  boolean preservable(long id) {
    LeaseTable.Lease lease = leases.get(id);
    if (lease == null || registry.instancesOf(id) == 0) {
      return false;
    }
    for (String key : lease.keys()) {
      if (LockTable.parseKey(key) != null) {
        return false;
      }
    }
    return true;
  }

  /**
   * Ends lease {@code id}: deletes its keys (lock keys leave their queues) and the lease. The
   * caller grants the waiters of the returned lock names once every lease of the command ended.
   */
  List<String> endLease(Batch batch, long id) {
    List<String> lockNames = new ArrayList<>();
    for (String key : List.copyOf(leases.get(id).keys())) {
      LockTable.LockRef ref = LockTable.parseKey(key);
      if (ref != null) {
        lockNames.add(ref.name());
      }
      deleteKey(batch, key, LockEvent.Reason.LEASE_ENDED);
    }
    leases.remove(id);
    batch.changes.add(new Change.LeaseRevoked(id));
    batch.leaseEvents.add(new LeaseEvent.Ended(id));
    return lockNames;
  }
}
