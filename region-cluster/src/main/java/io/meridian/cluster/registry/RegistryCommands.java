package io.meridian.cluster.registry;

import com.google.protobuf.ByteString;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DeregisterResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HealthStatus;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.SetHealthResponse;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.kv.MvccStore;
import io.meridian.cluster.lease.LeaseCommands;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.lock.LockCommands;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.InstanceValue;
import io.meridian.cluster.proto.RegistryRegister;
import io.meridian.cluster.proto.SetSelfPreservation;

/**
 * Registry writes: register (or update in place), set health, deregister, and the self-preservation
 * flag. Instances are keys (see {@link RegistryIndex}), so watches, snapshots and replication see
 * them like any key.
 *
 * <p>Guarantees: every instance is bound to a lease, either one the caller names or one the
 * registry grants for it at the same revision ({@code owns_lease}); an owned lease is ended with
 * the instance (deregistered, or moved to another lease) once no other key is attached to it. A
 * register or set-health that would store the value the instance already has writes nothing and
 * leaves the revision alone, so retries and periodic re-registration cost no revision.
 */
public final class RegistryCommands {
  private final StateCore core;
  private final KeySpace keys;
  private final LeaseTable leaseTable;
  private final LeaseCommands leases;
  private final LockCommands locks;

  public RegistryCommands(
      StateCore core,
      KeySpace keys,
      LeaseTable leaseTable,
      LeaseCommands leases,
      LockCommands locks) {
    this.core = core;
    this.keys = keys;
    this.leaseTable = leaseTable;
    this.leases = leases;
    this.locks = locks;
  }

  /**
   * Whether self-preservation keeps lease {@code id} from expiring: it holds at least one registry
   * instance and no lock key (a lock's holder must lose it on time, whatever the registry's renewal
   * rate).
   */
  public static boolean preservable(LeaseTable leaseTable, RegistryIndex registry, long id) {
    LeaseTable.Lease lease = leaseTable.get(id);
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

  private static void checkNames(String namespace, String service, String id) {
    KeyPath.checkNamespace(namespace);
    RegistryRules.checkService(service);
    RegistryRules.checkInstanceId(id);
  }

  /** The lease an instance will be bound to, worked out before anything is written. */
  private record LeaseChoice(long id, long ttlMs, boolean owned, boolean grant) {}

  public CommandResult register(RegistryRegister cmd, Batch batch) {
    core.requireWritable();
    RegisterRequest req = cmd.getRequest();
    checkNames(req.getNamespace(), req.getService(), req.getInstanceId());
    RegistryRules.checkAddress(req.getAddress());
    RegistryRules.checkPort(req.getPort());
    RegistryRules.checkLocation("region", req.getRegion());
    RegistryRules.checkLocation("zone", req.getZone());
    RegistryRules.checkTags(req.getTagsList());
    RegistryRules.checkMetadata(req.getMetadataMap());
    HealthStatus health = RegistryRules.initialHealth(req.getHealth());
    String key = RegistryIndex.keyOf(req.getNamespace(), req.getService(), req.getInstanceId());
    KeyValue current = keys.store().current(key);
    InstanceValue old = current == null ? null : RegistryIndex.decode(current);
    String note = "";
    if (old != null && req.getHealth() == HealthStatus.HEALTH_UNSPECIFIED) {
      // A re-registration that does not say its health keeps what SetHealth recorded.
      health = old.getInstance().getHealth();
      note = old.getInstance().getHealthNote();
    }
    LeaseChoice lease = chooseLease(req, cmd.getTtlMs(), key, current, old);
    long heartbeat = RegistryRules.heartbeatInterval(req.getHeartbeatIntervalMs(), lease.ttlMs());
    InstanceValue value =
        InstanceValue.newBuilder()
            .setInstance(
                Instance.newBuilder()
                    .setAddress(req.getAddress())
                    .setPort(req.getPort())
                    .setRegion(req.getRegion())
                    .setZone(req.getZone())
                    .addAllTags(req.getTagsList())
                    .putAllMetadata(req.getMetadataMap())
                    .setHealth(health)
                    .setHealthNote(note)
                    .setLease(lease.id())
                    .setHeartbeatIntervalMs(heartbeat))
            .setOwnsLease(lease.owned())
            .build();
    if (current != null && current.getLease() == lease.id() && value.equals(old)) {
      return registered(current, lease.ttlMs(), batch);
    }
    ByteString bytes = RegistryIndex.encode(value);
    core.checkQuota(
        MvccStore.versionBytes(key, bytes.size()) + (lease.grant() ? LeaseTable.LEASE_BYTES : 0));
    if (lease.grant()) {
      long granted = leases.grantLease(batch, req.getNamespace(), lease.ttlMs(), 0);
      if (granted != lease.id()) {
        throw new IllegalStateException("granted lease " + granted + ", planned " + lease.id());
      }
    }
    KeyValue prev = keys.putKey(batch, key, bytes, lease.id());
    if (prev != null && prev.getLease() != lease.id() && old.getOwnsLease()) {
      endIfUnused(batch, prev.getLease());
    }
    return registered(keys.store().current(key), lease.ttlMs(), batch);
  }

  /**
   * A named lease must be the namespace's; it is owned only if the instance already owned it. A
   * TTL-based registration keeps the instance's owned lease of the same TTL, else gets a new one.
   */
  private LeaseChoice chooseLease(
      RegisterRequest req, long ttlMs, String key, KeyValue current, InstanceValue old) {
    boolean ownedBefore = old != null && old.getOwnsLease();
    if (req.getLease() != 0) {
      leaseTable.requireLeaseOf(req.getLease(), key);
      long ttl = leaseTable.get(req.getLease()).record().getTtlMs();
      boolean owned = ownedBefore && current.getLease() == req.getLease();
      return new LeaseChoice(req.getLease(), ttl, owned, false);
    }
    RegistryRules.checkTtl(ttlMs);
    if (ownedBefore) {
      LeaseTable.Lease kept = leaseTable.get(current.getLease());
      if (kept != null && kept.record().getTtlMs() == ttlMs) {
        return new LeaseChoice(kept.id(), ttlMs, true, false);
      }
    }
    return new LeaseChoice(leases.nextLeaseId(), ttlMs, true, true);
  }

  private CommandResult registered(KeyValue kv, long ttlMs, Batch batch) {
    return CommandResult.newBuilder()
        .setRegistryRegister(
            RegisterResponse.newBuilder()
                .setHeader(core.header(batch))
                .setInstance(RegistryIndex.instanceOf(kv))
                .setTtl((ttlMs + 999) / 1000))
        .build();
  }

  /** Ends an owned lease that no key is attached to any more. */
  private void endIfUnused(Batch batch, long id) {
    LeaseTable.Lease lease = leaseTable.get(id);
    if (lease != null && lease.keys().isEmpty()) {
      locks.grantReady(batch, leases.endLease(batch, id));
    }
  }

  public CommandResult setHealth(SetHealthRequest req, Batch batch) {
    core.requireWritable();
    checkNames(req.getNamespace(), req.getService(), req.getInstanceId());
    RegistryRules.checkHealth(req.getHealth());
    RegistryRules.checkNote(req.getNote());
    String key = RegistryIndex.keyOf(req.getNamespace(), req.getService(), req.getInstanceId());
    KeyValue current = keys.store().current(key);
    if (current == null) {
      throw MeridianException.of(
          Error.Code.NOT_FOUND,
          "instance %s/%s/%s: not registered",
          req.getNamespace(),
          req.getService(),
          req.getInstanceId());
    }
    InstanceValue old = RegistryIndex.decode(current);
    InstanceValue value =
        old.toBuilder()
            .setInstance(
                old.getInstance().toBuilder()
                    .setHealth(req.getHealth())
                    .setHealthNote(req.getNote()))
            .build();
    if (!value.equals(old)) {
      ByteString bytes = RegistryIndex.encode(value);
      core.checkQuota(MvccStore.versionBytes(key, bytes.size()));
      keys.putKey(batch, key, bytes, current.getLease());
      current = keys.store().current(key);
    }
    return CommandResult.newBuilder()
        .setRegistrySetHealth(
            SetHealthResponse.newBuilder()
                .setHeader(core.header(batch))
                .setInstance(RegistryIndex.instanceOf(current)))
        .build();
  }

  public CommandResult deregister(DeregisterRequest req, Batch batch) {
    core.requireWritable();
    checkNames(req.getNamespace(), req.getService(), req.getInstanceId());
    String key = RegistryIndex.keyOf(req.getNamespace(), req.getService(), req.getInstanceId());
    KeyValue current = keys.store().current(key);
    if (current != null) {
      boolean owned = RegistryIndex.decode(current).getOwnsLease();
      keys.deleteKey(batch, key, LockEvent.Reason.RELEASED);
      if (owned) {
        endIfUnused(batch, current.getLease());
      }
    }
    return CommandResult.newBuilder()
        .setRegistryDeregister(
            DeregisterResponse.newBuilder()
                .setHeader(core.header(batch))
                .setDeregistered(current != null))
        .build();
  }

  /** Cluster metadata: no revision, any role, but only once the shard is initialized. */
  public CommandResult setSelfPreservation(SetSelfPreservation cmd) {
    if (!core.initialized()) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED, "shard %d: not initialized yet", core.shard());
    }
    core.setSelfPreservation(cmd.getActive());
    return CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();
  }
}
