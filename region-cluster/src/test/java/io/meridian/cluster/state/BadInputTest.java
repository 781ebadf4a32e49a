package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static io.meridian.cluster.state.Shard.opDeletePrefix;
import static io.meridian.cluster.state.Shard.opGet;
import static io.meridian.cluster.state.Shard.opPut;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.meridian.api.LeaseId;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.TxnRequest;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.RegistryRegister;
import io.meridian.cluster.proto.SetRole;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every bad input yields its error code and leaves the state (hash and revision) unchanged. */
class BadInputTest {
  // Fixed ids of the prepared state (see prepared()).
  private static final long LEASE_A = LeaseId.of(Shard.SHARD, 1);
  private static final long LEASE_B = LeaseId.of(Shard.SHARD, 2);
  private static final long LEASE_A2 = LeaseId.of(Shard.SHARD, 3);
  private static final long MISSING = LeaseId.of(Shard.SHARD, 99);

  /**
   * Namespace a with leases A and A2, namespace b with lease B; /a/l held by A; compacted at 3;
   * registry instance a/web/i1 bound to A.
   */
  private static Shard prepared() {
    Shard s = Shard.primary();
    s.grant("a");
    s.grant("b");
    s.grant("a");
    s.ok(s.put("/a/k", "v", LEASE_A));
    s.ok(s.put("/a/k", "w"));
    s.ok(s.acquire("/a/l", LEASE_A, LockMode.EXCLUSIVE, 0));
    s.ok(s.compact(3));
    s.ok(s.register(Shard.instance("a", "web", "i1").setLease(LEASE_A), 0));
    return s;
  }

  /** A valid registration of a/web/i2 with a registry-granted lease, to spoil one field of. */
  private static RegisterRequest.Builder reg() {
    return Shard.instance("a", "web", "i2");
  }

  private static Command.Builder register(RegisterRequest.Builder request) {
    return register(request, 30_000);
  }

  private static Command.Builder register(RegisterRequest.Builder request, long ttlMs) {
    return Command.newBuilder()
        .setRegistryRegister(RegistryRegister.newBuilder().setRequest(request).setTtlMs(ttlMs));
  }

  private static Command.Builder setHealth(String ns, String service, String id, int health) {
    return Command.newBuilder()
        .setRegistrySetHealth(
            SetHealthRequest.newBuilder()
                .setNamespace(ns)
                .setService(service)
                .setInstanceId(id)
                .setHealthValue(health));
  }

  private static Command.Builder deregister(String ns, String service, String id) {
    return Command.newBuilder()
        .setRegistryDeregister(
            DeregisterRequest.newBuilder().setNamespace(ns).setService(service).setInstanceId(id));
  }

  private static RegisterRequest.Builder manyTags(int n) {
    RegisterRequest.Builder r = reg();
    for (int i = 0; i < n; i++) {
      r.addTags("t" + i);
    }
    return r;
  }

  private static RegisterRequest.Builder manyMetadata(int n) {
    RegisterRequest.Builder r = reg();
    for (int i = 0; i < n; i++) {
      r.putMetadata("k" + i, "v");
    }
    return r;
  }

  /** Registry cases: name, command, code, and the start of the message (the field at fault). */
  static List<Arguments> registryCases() {
    Error.Code invalid = Error.Code.INVALID_ARGUMENT;
    List<Arguments> c = new ArrayList<>();
    c.add(
        Arguments.of(
            "register bad namespace", register(reg().setNamespace(".a")), invalid, "namespace:"));
    c.add(
        Arguments.of(
            "register empty service", register(reg().setService("")), invalid, "service:"));
    c.add(
        Arguments.of(
            "register service with '/'", register(reg().setService("a/b")), invalid, "service:"));
    c.add(
        Arguments.of(
            "register service with '-' first",
            register(reg().setService("-w")),
            invalid,
            "service:"));
    c.add(
        Arguments.of(
            "register service too long",
            register(reg().setService("s".repeat(129))),
            invalid,
            "service:"));
    c.add(
        Arguments.of(
            "register empty instance id",
            register(reg().setInstanceId("")),
            invalid,
            "instance_id:"));
    c.add(
        Arguments.of(
            "register instance id with '/'",
            register(reg().setInstanceId("i/1")),
            invalid,
            "instance_id:"));
    c.add(
        Arguments.of(
            "register instance id too long",
            register(reg().setInstanceId("i".repeat(129))),
            invalid,
            "instance_id:"));
    c.add(
        Arguments.of(
            "register empty address", register(reg().setAddress("")), invalid, "address: empty"));
    c.add(
        Arguments.of(
            "register address too long",
            register(reg().setAddress(("a".repeat(49) + ".").repeat(5) + "abcd")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address with '_'",
            register(reg().setAddress("my_host")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address label '-'",
            register(reg().setAddress("-a.example")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address empty label",
            register(reg().setAddress("a..b")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address bad IPv4",
            register(reg().setAddress("10.0.0.256")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address bracketed IPv6",
            register(reg().setAddress("[::1]")),
            invalid,
            "address:"));
    c.add(
        Arguments.of(
            "register address bad IPv6",
            register(reg().setAddress("1::2::3")),
            invalid,
            "address:"));
    c.add(Arguments.of("register port 0", register(reg().setPort(0)), invalid, "port: 0"));
    c.add(
        Arguments.of(
            "register port 65536", register(reg().setPort(65536)), invalid, "port: 65536"));
    c.add(
        Arguments.of(
            "register port above int", register(reg().setPort(-1)), invalid, "port: 4294967295"));
    c.add(
        Arguments.of(
            "register upper-case region",
            register(reg().setRegion("US-east")),
            invalid,
            "region:"));
    c.add(
        Arguments.of(
            "register zone with '-' first", register(reg().setZone("-1a")), invalid, "zone:"));
    c.add(
        Arguments.of(
            "register zone too long", register(reg().setZone("z".repeat(64))), invalid, "zone:"));
    c.add(Arguments.of("register 65 tags", register(manyTags(65)), invalid, "tags: 65"));
    c.add(
        Arguments.of(
            "register empty tag",
            register(reg().addTags("ok").addTags("")),
            invalid,
            "tags[1]: empty"));
    c.add(
        Arguments.of(
            "register tag too long",
            register(reg().addTags("t".repeat(129))),
            invalid,
            "tags[0]:"));
    c.add(
        Arguments.of(
            "register tag with control",
            register(reg().addTags("a\nb")),
            invalid,
            "tags[0]: a\\u000ab"));
    c.add(
        Arguments.of(
            "register duplicate tag",
            register(reg().addTags("x").addTags("x")),
            invalid,
            "tags[1]: x"));
    c.add(
        Arguments.of(
            "register 65 metadata entries", register(manyMetadata(65)), invalid, "metadata: 65"));
    c.add(
        Arguments.of(
            "register metadata key bad",
            register(reg().putMetadata("a b", "v")),
            invalid,
            "metadata key: a b"));
    c.add(
        Arguments.of(
            "register metadata key empty",
            register(reg().putMetadata("", "v")),
            invalid,
            "metadata key: empty"));
    c.add(
        Arguments.of(
            "register metadata key too long",
            register(reg().putMetadata("k".repeat(129), "v")),
            invalid,
            "metadata key:"));
    c.add(
        Arguments.of(
            "register metadata value too long",
            register(reg().putMetadata("k", "v".repeat(1025))),
            invalid,
            "metadata[k]: 1025"));
    c.add(
        Arguments.of(
            "register unknown health", register(reg().setHealthValue(9)), invalid, "health:"));
    c.add(
        Arguments.of(
            "register unknown lease",
            register(reg().setLease(MISSING), 0),
            Error.Code.LEASE_NOT_FOUND,
            LeaseId.notFound(MISSING).getMessage()));
    c.add(
        Arguments.of(
            "register other namespace's lease",
            register(reg().setLease(LEASE_B), 0),
            invalid,
            "lease:"));
    c.add(Arguments.of("register ttl 0", register(reg(), 0), invalid, "ttl_ms: 0"));
    c.add(Arguments.of("register negative ttl", register(reg(), -5), invalid, "ttl_ms: -5"));
    c.add(
        Arguments.of(
            "register heartbeat above ttl",
            register(reg().setHeartbeatIntervalMs(30_001)),
            invalid,
            "heartbeat_interval_ms: 30001"));
    c.add(
        Arguments.of(
            "register negative heartbeat",
            register(reg().setHeartbeatIntervalMs(-1)),
            invalid,
            "heartbeat_interval_ms: -1"));
    c.add(
        Arguments.of(
            "register heartbeat above the named lease's ttl",
            register(reg().setLease(LEASE_A2).setHeartbeatIntervalMs(10_001), 0),
            invalid,
            "heartbeat_interval_ms: 10001"));
    c.add(
        Arguments.of(
            "update in place with a bad port",
            register(Shard.instance("a", "web", "i1").setLease(LEASE_A).setPort(0), 0),
            invalid,
            "port:"));
    c.add(
        Arguments.of(
            "set health bad namespace", setHealth("", "web", "i1", 1), invalid, "namespace:"));
    c.add(
        Arguments.of(
            "set health bad service", setHealth("a", "w b", "i1", 1), invalid, "service:"));
    c.add(
        Arguments.of(
            "set health bad instance id",
            setHealth("a", "web", ":i1", 1),
            invalid,
            "instance_id:"));
    c.add(
        Arguments.of("set health unspecified", setHealth("a", "web", "i1", 0), invalid, "health:"));
    c.add(Arguments.of("set health unknown", setHealth("a", "web", "i1", 9), invalid, "health:"));
    Command.Builder longNote = setHealth("a", "web", "i1", 1);
    longNote.getRegistrySetHealthBuilder().setNote("n".repeat(1025));
    c.add(Arguments.of("set health note too long", longNote, invalid, "note: 1025"));
    c.add(
        Arguments.of(
            "set health not registered",
            setHealth("a", "web", "i9", 1),
            Error.Code.NOT_FOUND,
            "instance a/web/i9"));
    c.add(
        Arguments.of(
            "deregister bad namespace", deregister("a/b", "web", "i1"), invalid, "namespace:"));
    c.add(Arguments.of("deregister bad service", deregister("a", "", "i1"), invalid, "service:"));
    c.add(
        Arguments.of(
            "deregister bad instance id", deregister("a", "web", "i 1"), invalid, "instance_id:"));
    return c;
  }

  private static Command.Builder put(String key, ByteString value, long lease) {
    return Command.newBuilder()
        .setPut(PutRequest.newBuilder().setKey(key).setValue(value).setLease(lease));
  }

  private static Command.Builder put(String key) {
    return put(key, ByteString.copyFromUtf8("v"), 0);
  }

  private static Command.Builder txn(RequestOp... ops) {
    TxnRequest.Builder t = TxnRequest.newBuilder();
    for (RequestOp op : ops) {
      t.addSuccess(op);
    }
    return Command.newBuilder().setTxn(t);
  }

  private static RequestOp range(RangeRequest.Builder r) {
    return RequestOp.newBuilder().setRequestRange(r).build();
  }

  private static Command.Builder acquire(String name, long lease, long deadline, boolean hier) {
    return Command.newBuilder()
        .setLockAcquire(
            LockAcquire.newBuilder()
                .setName(name)
                .setLease(lease)
                .setDeadlineMs(deadline)
                .setHierarchical(hier));
  }

  private static Command.Builder grant(String ns, long ttl, long id) {
    return Command.newBuilder()
        .setLeaseGrant(LeaseGrant.newBuilder().setNamespace(ns).setTtlMs(ttl).setId(id));
  }

  static List<Arguments> cases() {
    List<Arguments> c = new ArrayList<>();
    c.add(Arguments.of("put reserved key", put("/a/.meridian/x"), Error.Code.RESERVED_KEY));
    c.add(Arguments.of("put relative key", put("a/x"), Error.Code.INVALID_ARGUMENT));
    c.add(Arguments.of("put bad namespace", put("/a b/x"), Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "put huge key",
            put("/a/" + "k".repeat(Limits.MAX_KEY_BYTES)),
            Error.Code.KEY_TOO_LARGE));
    c.add(
        Arguments.of(
            "put huge value",
            put("/a/x", ByteString.copyFrom(new byte[Limits.MAX_VALUE_BYTES + 1]), 0),
            Error.Code.VALUE_TOO_LARGE));
    c.add(
        Arguments.of(
            "put unknown lease",
            put("/a/x", ByteString.EMPTY, MISSING),
            Error.Code.LEASE_NOT_FOUND));
    c.add(
        Arguments.of(
            "put other namespace's lease",
            put("/a/x", ByteString.EMPTY, LEASE_B),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "delete reserved key",
            Command.newBuilder()
                .setDeleteRange(DeleteRangeRequest.newBuilder().setKey("/a/.meridian/l")),
            Error.Code.RESERVED_KEY));
    c.add(
        Arguments.of(
            "delete relative prefix",
            Command.newBuilder()
                .setDeleteRange(DeleteRangeRequest.newBuilder().setKey("a").setPrefix(true)),
            Error.Code.INVALID_ARGUMENT));
    RequestOp[] many = new RequestOp[Limits.MAX_TXN_OPS + 1];
    java.util.Arrays.fill(many, opGet("/a/k"));
    c.add(Arguments.of("txn too many ops", txn(many), Error.Code.TOO_MANY_OPS));
    c.add(
        Arguments.of(
            "txn put twice",
            txn(opPut("/a/x", "1"), opPut("/a/x", "2")),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "txn put then delete",
            txn(opPut("/a/x", "1"), opDeletePrefix("/a/x")),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "txn negative limit",
            txn(opPut("/a/x", "1"), range(RangeRequest.newBuilder().setKey("/a/k").setLimit(-1))),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "txn future read",
            txn(
                opPut("/a/x", "1"),
                range(RangeRequest.newBuilder().setKey("/a/k").setRevision(99))),
            Error.Code.FUTURE_REVISION));
    c.add(
        Arguments.of(
            "txn compacted read",
            txn(opPut("/a/x", "1"), range(RangeRequest.newBuilder().setKey("/a/k").setRevision(2))),
            Error.Code.COMPACTED));
    c.add(
        Arguments.of(
            "txn lock-token compare on a bad name",
            Command.newBuilder()
                .setTxn(
                    TxnRequest.newBuilder()
                        .addCompare(
                            Compare.newBuilder().setTarget(Compare.Target.LOCK_TOKEN).setKey("/a"))
                        .addSuccess(opPut("/a/x", "1"))),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "txn bad op in the branch not taken",
            Command.newBuilder()
                .setTxn(
                    TxnRequest.newBuilder()
                        .addSuccess(opPut("/a/x", "1"))
                        .addFailure(opPut("/a/.meridian/x", "1"))),
            Error.Code.RESERVED_KEY));
    c.add(
        Arguments.of(
            "compact future",
            Command.newBuilder().setCompact(CompactionRequest.newBuilder().setRevision(99)),
            Error.Code.FUTURE_REVISION));
    c.add(
        Arguments.of(
            "compact again",
            Command.newBuilder().setCompact(CompactionRequest.newBuilder().setRevision(3)),
            Error.Code.COMPACTED));
    c.add(Arguments.of("grant ttl 0", grant("a", 0, 0), Error.Code.INVALID_ARGUMENT));
    c.add(Arguments.of("grant bad namespace", grant(".a", 1000, 0), Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of("grant existing id", grant("a", 1000, LEASE_A), Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "grant other shard's id",
            grant("a", 1000, LeaseId.of(Shard.SHARD + 1, 1)),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "revoke unknown",
            Command.newBuilder().setLeaseRevoke(LeaseRevokeRequest.newBuilder().setId(MISSING)),
            Error.Code.LEASE_NOT_FOUND));
    c.add(
        Arguments.of(
            "acquire unknown lease",
            acquire("/a/m", MISSING, 0, false),
            Error.Code.LEASE_NOT_FOUND));
    c.add(
        Arguments.of(
            "acquire other namespace's lease",
            acquire("/a/m", LEASE_B, 0, false),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "acquire bad name", acquire("/a", LEASE_A, 0, false), Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "acquire reserved name",
            acquire("/a/.meridian/m", LEASE_A, 0, false),
            Error.Code.RESERVED_KEY));
    c.add(
        Arguments.of(
            "acquire without parent",
            acquire("/a/l/child", LEASE_A2, 0, true),
            Error.Code.LOCK_PARENT_NOT_HELD));
    c.add(
        Arguments.of(
            "acquire busy without deadline",
            acquire("/a/l", LEASE_A2, 0, false),
            Error.Code.LOCK_TIMEOUT));
    c.add(
        Arguments.of(
            "release not held",
            Command.newBuilder()
                .setLockRelease(LockReleaseRequest.newBuilder().setName("/a/l").setLease(LEASE_A2)),
            Error.Code.LOCK_NOT_HELD));
    c.add(
        Arguments.of(
            "cancel bad name",
            Command.newBuilder()
                .setLockCancel(
                    LockCancel.newBuilder()
                        .addWaiters(LockCancel.Waiter.newBuilder().setName("x").setLease(LEASE_A))),
            Error.Code.INVALID_ARGUMENT));
    c.add(
        Arguments.of(
            "set role to an older epoch",
            Command.newBuilder().setSetRole(SetRole.newBuilder().setRole(Role.STANDBY).setEpoch(0)),
            Error.Code.FENCED));
    c.add(
        Arguments.of(
            "set role unspecified",
            Command.newBuilder().setSetRole(SetRole.newBuilder().setEpoch(2)),
            Error.Code.INVALID_ARGUMENT));
    c.add(Arguments.of("no operation", Command.newBuilder(), Error.Code.INVALID_ARGUMENT));
    return c;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("registryCases")
  void badRegistryInputIsRefusedAndChangesNothing(
      String what, Command.Builder command, Error.Code expected, String messageStart) {
    ApplyResult r = refusedAndUnchanged(what, command, expected);
    assertThat(r.result().getError().getMessage()).startsWith(messageStart);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void badInputIsRefusedAndChangesNothing(
      String what, Command.Builder command, Error.Code expected) {
    refusedAndUnchanged(what, command, expected);
  }

  private static ApplyResult refusedAndUnchanged(
      String what, Command.Builder command, Error.Code expected) {
    Shard s = prepared();
    byte[] before = s.hash();
    long revision = s.state.revision();
    ApplyResult r = s.apply(command.setRequestId("req-" + what));
    assertThat(code(r)).isEqualTo(expected);
    assertThat(r.result().getError().getMessage()).isNotBlank();
    assertThat(r.revision()).isEqualTo(revision);
    assertThat(r.changes()).isEmpty();
    assertThat(r.lockEvents()).isEmpty();
    assertThat(r.leaseEvents()).isEmpty();
    assertThat(s.state.revision()).isEqualTo(revision);
    assertThat(s.hash()).isEqualTo(before);
    return r;
  }

  @Test
  void registryWritesOnAStandbyAreRefused() {
    Shard s = prepared();
    s.ok(s.setRole(Role.STANDBY, 2));
    byte[] before = s.hash();
    List<Command.Builder> writes =
        List.of(
            register(reg()),
            register(Shard.instance("a", "web", "i1").setLease(LEASE_A).setPort(1), 0),
            setHealth("a", "web", "i1", 3),
            deregister("a", "web", "i1"));
    for (Command.Builder write : writes) {
      ApplyResult r = s.apply(write);
      assertThat(code(r)).as("%s", write).isEqualTo(Error.Code.NOT_PRIMARY);
      assertThat(r.changes()).isEmpty();
    }
    assertThat(s.hash()).isEqualTo(before);
    assertThat(s.state.instance("a", "web", "i1")).isPresent();
  }

  @Test
  void badRegistryReadsAreRefused() {
    Shard s = prepared();
    assertThatThrownBy(
            () ->
                s.state.discover(
                    DiscoverRequest.newBuilder().setNamespace("a").setService("").build()))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT));
    assertThatThrownBy(
            () ->
                s.state.discover(
                    DiscoverRequest.newBuilder().setNamespace(".a").setService("web").build()))
        .isInstanceOf(MeridianException.class);
    assertThatThrownBy(() -> s.state.listServices("")).isInstanceOf(MeridianException.class);
    assertThatThrownBy(() -> s.state.instance("a", "web", "i/1"))
        .isInstanceOf(MeridianException.class);
  }
}
