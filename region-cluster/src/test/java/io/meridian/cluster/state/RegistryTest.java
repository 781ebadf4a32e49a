package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static io.meridian.cluster.state.Shard.instance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.meridian.api.LeaseId;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HealthStatus;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.ServiceSummary;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.LeaseEvent;
import io.meridian.cluster.proto.InstanceValue;
import io.meridian.cluster.registry.RegistryIndex;
import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryTest {
  private static final String WEB = RegistryIndex.keyOf("a", "web", "i1");

  private final Shard s = Shard.primary();

  private static List<String> kinds(ApplyResult r) {
    return r.changes().stream().map(c -> c.getClass().getSimpleName()).toList();
  }

  private static RegisterResponse response(ApplyResult r) {
    return r.result().getRegistryRegister();
  }

  private boolean ownsLease(String key) {
    return RegistryIndex.decode(s.get(key)).getOwnsLease();
  }

  @Test
  void registerWithTtlGrantsALeaseAtTheSameRevision() {
    ApplyResult r =
        s.ok(
            s.register(instance("a", "web", "i1").addTags("v2").putMetadata("git", "abc"), 30_000));
    long lease = LeaseId.of(Shard.SHARD, 1);
    assertThat(r.revision()).isEqualTo(1);
    assertThat(kinds(r)).containsExactly("LeaseGranted", "KvPut");
    assertThat(r.leaseEvents()).containsExactly(new LeaseEvent.Granted(lease, 30_000));
    assertThat(((Change.LeaseGranted) r.changes().get(0)).lease().getGrantRevision()).isEqualTo(1);
    RegisterResponse resp = response(r);
    assertThat(resp.getHeader().getRevision()).isEqualTo(1);
    assertThat(resp.getTtl()).isEqualTo(30);
    assertThat(resp.getInstance())
        .isEqualTo(
            Instance.newBuilder()
                .setNamespace("a")
                .setService("web")
                .setId("i1")
                .setAddress("10.0.0.1")
                .setPort(8080)
                .addTags("v2")
                .putMetadata("git", "abc")
                .setHealth(HealthStatus.PASSING)
                .setLease(lease)
                .setHeartbeatIntervalMs(10_000)
                .setCreateRevision(1)
                .setModRevision(1)
                .build());
    // Stored: the implied fields are left out, the key is bound to the lease.
    KeyValue kv = s.get(WEB);
    assertThat(kv.getLease()).isEqualTo(lease);
    InstanceValue stored = RegistryIndex.decode(kv);
    assertThat(stored.getOwnsLease()).isTrue();
    assertThat(stored.getInstance().getNamespace()).isEmpty();
    assertThat(stored.getInstance().getId()).isEmpty();
    assertThat(stored.getInstance().getCreateRevision()).isZero();
    assertThat(s.state.lease(lease).orElseThrow().keys()).containsExactly(WEB);
    assertThat(s.state.registryInstances()).isEqualTo(1);
    assertThat(s.state.registryInstancesOf(lease)).isEqualTo(1);
    assertThat(s.state.instance("a", "web", "i1")).contains(resp.getInstance());
    assertThat(s.state.instance("a", "web", "i2")).isEmpty();
    assertThat(s.state.stats().registryInstances()).isEqualTo(1);
  }

  @Test
  void registerWithAGivenLeaseDoesNotOwnIt() {
    long lease = s.grant("a"); // 10 s
    ApplyResult r = s.ok(s.register(instance("a", "web", "i1").setLease(lease), 0));
    assertThat(kinds(r)).containsExactly("KvPut");
    assertThat(r.leaseEvents()).isEmpty();
    assertThat(response(r).getTtl()).isEqualTo(10);
    assertThat(response(r).getInstance().getLease()).isEqualTo(lease);
    assertThat(response(r).getInstance().getHeartbeatIntervalMs()).isEqualTo(3333);
    assertThat(ownsLease(WEB)).isFalse();
    // ttl_ms is ignored when a lease is named.
    s.ok(s.register(instance("a", "web", "i2").setLease(lease), 99_000));
    assertThat(response(s.register(instance("a", "web", "i2").setLease(lease), 5)).getTtl())
        .isEqualTo(10);
    assertThat(s.state.registryInstancesOf(lease)).isEqualTo(2);
    // Deregistering does not end a lease the registry did not grant.
    s.ok(s.deregister("a", "web", "i1"));
    s.ok(s.deregister("a", "web", "i2"));
    assertThat(s.state.lease(lease)).isPresent();
  }

  @Test
  void updateInPlaceKeepsCreateRevisionAndLease() {
    Instance first = s.registered(instance("a", "web", "i1"));
    s.ok(s.put("/a/other", "x"));
    ApplyResult r =
        s.ok(s.register(instance("a", "web", "i1").setPort(9090).setZone("z1"), 30_000));
    assertThat(kinds(r)).containsExactly("KvPut");
    Instance now = response(r).getInstance();
    assertThat(now.getCreateRevision()).isEqualTo(1);
    assertThat(now.getModRevision()).isEqualTo(3);
    assertThat(now.getPort()).isEqualTo(9090);
    assertThat(now.getLease()).isEqualTo(first.getLease());
    assertThat(s.get(WEB).getVersion()).isEqualTo(2);
    assertThat(ownsLease(WEB)).isTrue();
    assertThat(s.state.leases("a")).hasSize(1);
    assertThat(s.state.registryInstances()).isEqualTo(1);
  }

  @Test
  void identicalReRegisterWritesNothing() {
    ApplyResult first =
        s.ok(
            s.register(
                instance("a", "web", "i1").putMetadata("x", "1").putMetadata("y", "2"), 30_000));
    byte[] before = s.hash();
    // Same content, metadata given in another order: still the same value.
    ApplyResult again =
        s.ok(
            s.register(
                instance("a", "web", "i1").putMetadata("y", "2").putMetadata("x", "1"), 30_000));
    assertThat(again.revision()).isEqualTo(1);
    assertThat(again.changes()).isEmpty();
    assertThat(again.leaseEvents()).isEmpty();
    assertThat(response(again)).isEqualTo(response(first));
    assertThat(s.hash()).isEqualTo(before);
    // Naming the lease the instance owns keeps it owned: still nothing to write.
    long lease = response(first).getInstance().getLease();
    ApplyResult named =
        s.ok(
            s.register(
                instance("a", "web", "i1")
                    .putMetadata("x", "1")
                    .putMetadata("y", "2")
                    .setLease(lease),
                0));
    assertThat(named.changes()).isEmpty();
    assertThat(ownsLease(WEB)).isTrue();
  }

  @Test
  void ttlChangeSwapsToANewOwnedLeaseAndEndsTheOldOne() {
    long old = s.registered(instance("a", "web", "i1")).getLease();
    ApplyResult r = s.ok(s.register(instance("a", "web", "i1"), 60_000));
    long fresh = response(r).getInstance().getLease();
    assertThat(fresh).isNotEqualTo(old);
    assertThat(r.revision()).isEqualTo(2);
    assertThat(kinds(r)).containsExactly("LeaseGranted", "KvPut", "LeaseRevoked");
    assertThat(r.leaseEvents())
        .containsExactly(new LeaseEvent.Granted(fresh, 60_000), new LeaseEvent.Ended(old));
    assertThat(response(r).getTtl()).isEqualTo(60);
    assertThat(response(r).getInstance().getHeartbeatIntervalMs()).isEqualTo(20_000);
    assertThat(response(r).getInstance().getCreateRevision()).isEqualTo(1);
    assertThat(s.state.lease(old)).isEmpty();
    assertThat(s.state.lease(fresh).orElseThrow().keys()).containsExactly(WEB);
    assertThat(ownsLease(WEB)).isTrue();
    assertThat(s.state.registryInstancesOf(old)).isZero();
    assertThat(s.state.registryInstancesOf(fresh)).isEqualTo(1);
  }

  @Test
  void anOldOwnedLeaseStillHoldingKeysIsKept() {
    long old = s.registered(instance("a", "web", "i1")).getLease();
    s.ok(s.put("/a/session", "x", old));
    long given = s.grant("a");
    ApplyResult r = s.ok(s.register(instance("a", "web", "i1").setLease(given), 0));
    assertThat(kinds(r)).containsExactly("KvPut");
    assertThat(s.state.lease(old).orElseThrow().keys()).containsExactly("/a/session");
    assertThat(ownsLease(WEB)).isFalse();
    // A named lease replacing an owned lease that holds nothing else ends it.
    long owned = s.registered(instance("a", "web", "i2")).getLease();
    ApplyResult moved = s.ok(s.register(instance("a", "web", "i2").setLease(given), 0));
    assertThat(kinds(moved)).containsExactly("KvPut", "LeaseRevoked");
    assertThat(moved.leaseEvents()).containsExactly(new LeaseEvent.Ended(owned));
    assertThat(s.state.lease(owned)).isEmpty();
    // From a named lease back to a TTL: a new owned lease, the named one stays.
    ApplyResult back = s.ok(s.register(instance("a", "web", "i2"), 30_000));
    assertThat(kinds(back)).containsExactly("LeaseGranted", "KvPut");
    assertThat(s.state.lease(given)).isPresent();
  }

  @Test
  void setHealthWritesANewVersionOnChangeOnly() {
    Instance first = s.registered(instance("a", "web", "i1"));
    ApplyResult r = s.ok(s.setHealth("a", "web", "i1", HealthStatus.CRITICAL, "disk full"));
    Instance now = r.result().getRegistrySetHealth().getInstance();
    assertThat(r.revision()).isEqualTo(2);
    assertThat(kinds(r)).containsExactly("KvPut");
    assertThat(now.getHealth()).isEqualTo(HealthStatus.CRITICAL);
    assertThat(now.getHealthNote()).isEqualTo("disk full");
    assertThat(now.getLease()).isEqualTo(first.getLease());
    assertThat(now.getModRevision()).isEqualTo(2);
    assertThat(s.get(WEB).getLease()).isEqualTo(first.getLease());
    assertThat(s.get(WEB).getVersion()).isEqualTo(2);
    ApplyResult same = s.ok(s.setHealth("a", "web", "i1", HealthStatus.CRITICAL, "disk full"));
    assertThat(same.changes()).isEmpty();
    assertThat(same.result().getRegistrySetHealth().getHeader().getRevision()).isEqualTo(2);
    assertThat(same.result().getRegistrySetHealth().getInstance()).isEqualTo(now);
    ApplyResult missing = s.setHealth("a", "web", "i9", HealthStatus.PASSING, "");
    assertThat(code(missing)).isEqualTo(Error.Code.NOT_FOUND);
    assertThat(missing.result().getError().getMessage())
        .isEqualTo("instance a/web/i9: not registered");
  }

  @Test
  void reRegisterWithoutAHealthKeepsTheRecordedOneAndAnExplicitHealthReplacesIt() {
    s.registered(instance("a", "web", "i1"));
    s.ok(s.setHealth("a", "web", "i1", HealthStatus.WARNING, "slow disk"));
    Instance kept = response(s.ok(s.register(instance("a", "web", "i1"), 30_000))).getInstance();
    assertThat(kept.getHealth()).isEqualTo(HealthStatus.WARNING);
    assertThat(kept.getHealthNote()).isEqualTo("slow disk");
    Instance replaced =
        response(
                s.ok(
                    s.register(instance("a", "web", "i1").setHealth(HealthStatus.PASSING), 30_000)))
            .getInstance();
    assertThat(replaced.getHealth()).isEqualTo(HealthStatus.PASSING);
    assertThat(replaced.getHealthNote()).isEmpty();
  }

  @Test
  void deregisterEndsAnOwnedLeaseButNotOneSharedWithAnotherKey() {
    long shared = s.registered(instance("a", "web", "i1")).getLease();
    s.ok(s.put("/a/x", "1", shared));
    ApplyResult r = s.ok(s.deregister("a", "web", "i1"));
    assertThat(r.result().getRegistryDeregister().getDeregistered()).isTrue();
    assertThat(kinds(r)).containsExactly("KvDelete");
    assertThat(s.state.lease(shared).orElseThrow().keys()).containsExactly("/a/x");
    long alone = s.registered(instance("a", "web", "i2")).getLease();
    ApplyResult r2 = s.ok(s.deregister("a", "web", "i2"));
    assertThat(kinds(r2)).containsExactly("KvDelete", "LeaseRevoked");
    assertThat(r2.leaseEvents()).containsExactly(new LeaseEvent.Ended(alone));
    assertThat(r2.result().getRegistryDeregister().getHeader().getRevision())
        .isEqualTo(r2.revision());
    assertThat(s.state.lease(alone)).isEmpty();
    assertThat(s.state.registryInstances()).isZero();
    assertThat(s.get(RegistryIndex.keyOf("a", "web", "i2"))).isNull();
  }

  @Test
  void deregisteringAnAbsentInstanceChangesNothing() {
    s.registered(instance("a", "web", "i1"));
    byte[] before = s.hash();
    ApplyResult r = s.ok(s.deregister("a", "web", "nope"));
    assertThat(r.result().getRegistryDeregister().getDeregistered()).isFalse();
    assertThat(r.result().getRegistryDeregister().getHeader().getRevision()).isEqualTo(1);
    assertThat(r.changes()).isEmpty();
    assertThat(r.revision()).isEqualTo(1);
    assertThat(s.hash()).isEqualTo(before);
  }

  @Test
  void leaseExpiryAndRevokeDeleteTheInstance() {
    long a = s.registered(instance("a", "web", "i1")).getLease();
    long b = s.registered(instance("a", "web", "i2")).getLease();
    ApplyResult expired = s.ok(s.expire(a));
    assertThat(expired.changes()).hasSize(2);
    assertThat(expired.changes().get(0)).isInstanceOf(Change.KvDelete.class);
    assertThat(((Change.KvDelete) expired.changes().get(0)).key()).isEqualTo(WEB);
    assertThat(expired.changes().get(1)).isEqualTo(new Change.LeaseRevoked(a));
    assertThat(s.state.instance("a", "web", "i1")).isEmpty();
    ApplyResult revoked = s.ok(s.revoke(b));
    assertThat(kinds(revoked)).containsExactly("KvDelete", "LeaseRevoked");
    assertThat(s.state.registryInstances()).isZero();
    assertThat(s.state.expectedRenewals(60_000)).isZero();
    assertThat(s.discover(DiscoverRequest.newBuilder().setNamespace("a").setService("web")))
        .isEmpty();
  }

  @Test
  void discoverFiltersAndOrdersZoneFirstThenRegion() {
    s.registered(instance("a", "web", "e1b").setRegion("us-east").setZone("us-east-1b"));
    s.registered(instance("a", "web", "e1a-2").setRegion("us-east").setZone("us-east-1a"));
    s.registered(instance("a", "web", "w1a").setRegion("us-west").setZone("us-east-1a"));
    s.registered(instance("a", "web", "e1a-1").setRegion("us-east").setZone("us-east-1a"));
    s.registered(instance("a", "web", "eu").setRegion("eu-west").addTags("canary"));
    s.registered(instance("a", "web", "none"));
    s.registered(
        instance("a", "web", "sick").setRegion("us-east").setHealth(HealthStatus.CRITICAL));
    s.registered(instance("a", "web", "tagged").addTags("canary").addTags("v2"));
    s.registered(instance("a", "webx", "other-service"));
    s.registered(instance("b", "web", "other-namespace"));
    DiscoverRequest.Builder near =
        DiscoverRequest.newBuilder()
            .setNamespace("a")
            .setService("web")
            .setNearRegion("us-east")
            .setNearZone("us-east-1a");
    assertThat(s.discover(near))
        .containsExactly("e1a-1", "e1a-2", "e1b", "sick", "eu", "none", "tagged", "w1a");
    // A near zone alone matches the zone in any region.
    assertThat(s.discover(near.clone().clearNearRegion()))
        .containsExactly("e1a-1", "e1a-2", "w1a", "e1b", "eu", "none", "sick", "tagged");
    assertThat(s.discover(near.clone().setPassingOnly(true))).doesNotContain("sick").hasSize(7);
    assertThat(s.discover(near.clone().setRegion("us-east")))
        .containsExactly("e1a-1", "e1a-2", "e1b", "sick");
    assertThat(s.discover(near.clone().setZone("us-east-1a")))
        .containsExactly("e1a-1", "e1a-2", "w1a");
    assertThat(s.discover(near.clone().addTags("canary"))).containsExactly("eu", "tagged");
    assertThat(s.discover(near.clone().addTags("canary").addTags("v2"))).containsExactly("tagged");
    assertThat(s.discover(near.clone().setService("nope"))).isEmpty();
    DiscoverResponse resp = s.state.discover(near.build());
    assertThat(resp.getHeader().getRevision()).isEqualTo(s.state.revision());
    assertThat(resp.getSelfPreservation()).isFalse();
    assertThat(resp.getInstances(0).getNamespace()).isEqualTo("a");
    assertThat(resp.getInstances(0).getService()).isEqualTo("web");
  }

  @Test
  void listServicesCountsInstancesAndPassing() {
    s.registered(instance("a", "web", "1"));
    s.registered(instance("a", "web", "2").setHealth(HealthStatus.WARNING));
    s.registered(instance("a", "web.v2", "1"));
    s.registered(instance("a", "api", "1"));
    s.ok(s.setHealth("a", "api", "1", HealthStatus.CRITICAL, ""));
    s.registered(instance("b", "db", "1"));
    var resp = s.state.listServices("a");
    assertThat(resp.getServicesList())
        .containsExactly(summary("api", 1, 0), summary("web", 2, 1), summary("web.v2", 1, 1));
    assertThat(resp.getHeader().getRevision()).isEqualTo(s.state.revision());
    assertThat(s.state.listServices("c").getServicesList()).isEmpty();
  }

  private static ServiceSummary summary(String name, long instances, long passing) {
    return ServiceSummary.newBuilder()
        .setName(name)
        .setInstances(instances)
        .setPassing(passing)
        .build();
  }

  @Test
  void selfPreservationSkipsRegistryOnlyLeasesWithoutBumpingTheRevision() {
    long registryOnly = s.registered(instance("a", "web", "i1")).getLease();
    long withLock = s.registered(instance("a", "web", "i2")).getLease();
    s.ok(s.acquire("/a/jobs", withLock, LockMode.EXCLUSIVE, 0));
    long plain = s.grant("a");
    s.ok(s.put("/a/k", "v", plain));
    long withUserKey = s.registered(instance("a", "web", "i3")).getLease();
    s.ok(s.put("/a/k2", "v", withUserKey));
    long revision = s.state.revision();
    byte[] before = s.hash();

    ApplyResult on = s.ok(s.selfPreservation(true));
    assertThat(on.result().hasAck()).isTrue();
    assertThat(on.revision()).isEqualTo(revision);
    assertThat(on.changes()).isEmpty();
    assertThat(s.state.selfPreservation()).isTrue();
    assertThat(s.state.stats().selfPreservation()).isTrue();
    assertThat(s.hash()).isNotEqualTo(before);
    assertThat(s.state.preservable(registryOnly)).isTrue();
    assertThat(s.state.preservable(withUserKey)).isTrue();
    assertThat(s.state.preservable(withLock)).isFalse();
    assertThat(s.state.preservable(plain)).isFalse();
    assertThat(s.state.preservable(LeaseId.of(Shard.SHARD, 999))).isFalse();
    assertThat(
            s.state
                .discover(DiscoverRequest.newBuilder().setNamespace("a").setService("web").build())
                .getSelfPreservation())
        .isTrue();
    assertThat(s.state.listServices("a").getSelfPreservation()).isTrue();

    ApplyResult expired = s.ok(s.expire(registryOnly, withLock, plain, withUserKey));
    assertThat(expired.leaseEvents())
        .containsExactly(new LeaseEvent.Ended(withLock), new LeaseEvent.Ended(plain));
    assertThat(s.state.lease(registryOnly)).isPresent();
    assertThat(s.state.lease(withUserKey)).isPresent();
    assertThat(s.state.instance("a", "web", "i1")).isPresent();
    assertThat(s.state.instance("a", "web", "i2")).isEmpty();
    assertThat(s.state.inspectLock("/a/jobs").getHoldersList()).isEmpty();
    // Revoke is explicit: not preserved.
    assertThat(kinds(s.ok(s.revoke(withUserKey)))).contains("LeaseRevoked");

    ApplyResult off = s.ok(s.selfPreservation(false));
    assertThat(off.revision()).isEqualTo(expired.revision() + 1);
    assertThat(s.ok(s.expire(registryOnly)).leaseEvents())
        .containsExactly(new LeaseEvent.Ended(registryOnly));
    assertThat(s.state.registryInstances()).isZero();
  }

  @Test
  void selfPreservationNeedsAnInitializedShardButNoPrimary() {
    Shard fresh = new Shard(new ShardState(Shard.SHARD));
    assertThat(code(fresh.selfPreservation(true))).isEqualTo(Error.Code.NOT_INITIALIZED);
    assertThat(fresh.state.selfPreservation()).isFalse();
    fresh.ok(fresh.init(Role.STANDBY, 1));
    fresh.ok(fresh.selfPreservation(true));
    assertThat(fresh.state.selfPreservation()).isTrue();
    assertThat(fresh.state.revision()).isZero();
  }

  @Test
  void snapshotRoundTripRebuildsTheIndex() {
    s.registered(instance("a", "web", "i1").setZone("z1"));
    s.ok(s.register(instance("a", "web", "i2").setHeartbeatIntervalMs(1000), 30_000));
    long lease = s.grant("a");
    s.ok(s.register(instance("a", "api", "i1").setLease(lease), 0));
    s.ok(s.register(instance("a", "api", "i2").setLease(lease), 0));
    s.ok(s.setHealth("a", "web", "i2", HealthStatus.WARNING, "slow"));
    s.ok(s.deregister("a", "web", "gone"));
    s.ok(s.selfPreservation(true));
    ShardState copy = s.reloaded();
    assertThat(copy.stateHash()).isEqualTo(s.hash());
    assertThat(copy.selfPreservation()).isTrue();
    assertThat(copy.registryInstances()).isEqualTo(4).isEqualTo(s.state.registryInstances());
    assertThat(copy.registryInstancesOf(lease)).isEqualTo(2);
    assertThat(copy.expectedRenewals(60_000)).isEqualTo(s.state.expectedRenewals(60_000));
    assertThat(copy.stats()).isEqualTo(s.state.stats());
    for (String service : List.of("web", "api")) {
      DiscoverRequest req =
          DiscoverRequest.newBuilder()
              .setNamespace("a")
              .setService(service)
              .setNearZone("z1")
              .build();
      assertThat(copy.discover(req)).isEqualTo(s.state.discover(req));
    }
    assertThat(copy.listServices("a")).isEqualTo(s.state.listServices("a"));
    assertThat(copy.preservable(lease)).isTrue();
    // The copy keeps working: deregistering the owned-lease instance ends its lease there too.
    Shard c = new Shard(copy);
    long owned = copy.instance("a", "web", "i1").orElseThrow().getLease();
    assertThat(kinds(c.ok(c.deregister("a", "web", "i1"))))
        .containsExactly("KvDelete", "LeaseRevoked");
    assertThat(copy.lease(owned)).isEmpty();
  }

  @Test
  void expectedRenewalsSumsEachInstancesRate() {
    assertThat(s.state.expectedRenewals(60_000)).isZero();
    s.registered(instance("a", "web", "i1")); // 30 s TTL: every 10 s
    s.ok(s.register(instance("a", "web", "i2").setHeartbeatIntervalMs(5_000), 30_000));
    s.ok(s.register(instance("a", "web", "i3").setHeartbeatIntervalMs(7_000), 30_000));
    assertThat(s.state.expectedRenewals(60_000)).isCloseTo(6 + 12 + 60.0 / 7, within(1e-9));
    s.ok(s.register(instance("a", "web", "i2").setHeartbeatIntervalMs(10_000), 30_000));
    assertThat(s.state.expectedRenewals(60_000)).isCloseTo(6 + 6 + 60.0 / 7, within(1e-9));
    s.ok(s.deregister("a", "web", "i3"));
    assertThat(s.state.expectedRenewals(60_000)).isCloseTo(12, within(1e-9));
    assertThat(s.state.expectedRenewals(0)).isZero();
  }

  @Test
  void registerOverTheQuotaIsRefused() {
    Shard small = Shard.primary(300, 10);
    ApplyResult r =
        small.register(instance("a", "web", "i1").putMetadata("k", "v".repeat(400)), 30_000);
    assertThat(code(r)).isEqualTo(Error.Code.NO_SPACE);
    assertThat(small.state.leases("")).isEmpty();
    assertThat(small.state.registryInstances()).isZero();
  }
}
