package io.meridian.cluster.state;

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
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.InstanceValue;
import io.meridian.cluster.proto.RegistryRegister;
import io.meridian.cluster.proto.SetSelfPreservation;
import io.meridian.cluster.state.kv.MvccStore;
import io.meridian.cluster.state.lease.LeaseTable;
import io.meridian.cluster.state.registry.RegistryIndex;
import io.meridian.cluster.state.registry.RegistryRules;

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
final class RegistryCommands {
  private final StateCore core;

  RegistryCommands(StateCore core) {
    this.core = core;
  }

  private static void checkNames(String namespace, String service, String id) {
    KeyPath.checkNamespace(namespace);
    RegistryRules.checkService(service);
    RegistryRules.checkInstanceId(id);
  }

  /** The lease an instance will be bound to, worked out before anything is written. */
  private record LeaseChoice(long id, long ttlMs, boolean owned, boolean grant) {}

  CommandResult register(RegistryRegister cmd, Batch batch) {
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
    KeyValue current = core.kv.current(key);
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
      long granted = core.grantLease(batch, req.getNamespace(), lease.ttlMs(), 0);
      if (granted != lease.id()) {
        throw new IllegalStateException("granted lease " + granted + ", planned " + lease.id());
      }
    }
    KeyValue prev = core.putKey(batch, key, bytes, lease.id());
    if (prev != null && prev.getLease() != lease.id() && old.getOwnsLease()) {
      endIfUnused(batch, prev.getLease());
    }
    return registered(core.kv.current(key), lease.ttlMs(), batch);
  }

  /**
   * A named lease must be the namespace's; it is owned only if the instance already owned it. A
   * TTL-based registration keeps the instance's owned lease of the same TTL, else gets a new one.
   */
  private LeaseChoice chooseLease(
      RegisterRequest req, long ttlMs, String key, KeyValue current, InstanceValue old) {
    boolean ownedBefore = old != null && old.getOwnsLease();
    if (req.getLease() != 0) {
      core.requireLeaseOf(req.getLease(), key);
      long ttl = core.leases.get(req.getLease()).record().getTtlMs();
      boolean owned = ownedBefore && current.getLease() == req.getLease();
      return new LeaseChoice(req.getLease(), ttl, owned, false);
    }
    RegistryRules.checkTtl(ttlMs);
    if (ownedBefore) {
      LeaseTable.Lease kept = core.leases.get(current.getLease());
      if (kept != null && kept.record().getTtlMs() == ttlMs) {
        return new LeaseChoice(kept.id(), ttlMs, true, false);
      }
    }
    return new LeaseChoice(core.nextLeaseId(), ttlMs, true, true);
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
    LeaseTable.Lease lease = core.leases.get(id);
    if (lease != null && lease.keys().isEmpty()) {
      core.grantReady(batch, core.endLease(batch, id));
    }
  }

  CommandResult setHealth(SetHealthRequest req, Batch batch) {
    core.requireWritable();
    checkNames(req.getNamespace(), req.getService(), req.getInstanceId());
    RegistryRules.checkHealth(req.getHealth());
    RegistryRules.checkNote(req.getNote());
    String key = RegistryIndex.keyOf(req.getNamespace(), req.getService(), req.getInstanceId());
    KeyValue current = core.kv.current(key);
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
      core.putKey(batch, key, bytes, current.getLease());
      current = core.kv.current(key);
    }
    return CommandResult.newBuilder()
        .setRegistrySetHealth(
            SetHealthResponse.newBuilder()
                .setHeader(core.header(batch))
                .setInstance(RegistryIndex.instanceOf(current)))
        .build();
  }

  CommandResult deregister(DeregisterRequest req, Batch batch) {
    core.requireWritable();
    checkNames(req.getNamespace(), req.getService(), req.getInstanceId());
    String key = RegistryIndex.keyOf(req.getNamespace(), req.getService(), req.getInstanceId());
    KeyValue current = core.kv.current(key);
    if (current != null) {
      boolean owned = RegistryIndex.decode(current).getOwnsLease();
      core.deleteKey(batch, key, LockEvent.Reason.RELEASED);
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
  CommandResult setSelfPreservation(SetSelfPreservation cmd) {
    if (!core.initialized) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED, "shard %d: not initialized yet", core.shard);
    }
    core.selfPreservation = cmd.getActive();
    return CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();
  }
}
