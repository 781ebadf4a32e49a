package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static io.meridian.cluster.state.Shard.opDeletePrefix;
import static io.meridian.cluster.state.Shard.opGet;
import static io.meridian.cluster.state.Shard.opPut;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.meridian.api.LeaseId;
import io.meridian.api.Limits;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.TxnRequest;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.SetRole;
import java.util.ArrayList;
import java.util.List;
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

  /** Namespace a with leases A and A2, namespace b with lease B; /a/l held by A; compacted at 3. */
  private static Shard prepared() {
    Shard s = Shard.primary();
    s.grant("a");
    s.grant("b");
    s.grant("a");
    s.ok(s.put("/a/k", "v", LEASE_A));
    s.ok(s.put("/a/k", "w"));
    s.ok(s.acquire("/a/l", LEASE_A, LockMode.EXCLUSIVE, 0));
    s.ok(s.compact(3));
    return s;
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
  @MethodSource("cases")
  void badInputIsRefusedAndChangesNothing(
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
    assertThat(s.state.revision()).isEqualTo(revision);
    assertThat(s.hash()).isEqualTo(before);
  }
}
