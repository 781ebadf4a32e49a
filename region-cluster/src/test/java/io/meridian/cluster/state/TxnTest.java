package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.cmpVersion;
import static io.meridian.cluster.state.Shard.code;
import static io.meridian.cluster.state.Shard.opDelete;
import static io.meridian.cluster.state.Shard.opDeletePrefix;
import static io.meridian.cluster.state.Shard.opGet;
import static io.meridian.cluster.state.Shard.opPut;
import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.Limits;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.cluster.internal.ApplyResult;
import org.junit.jupiter.api.Test;

class TxnTest {
  private final Shard s = Shard.primary();

  @Test
  void successBranchWritesAtOneRevisionAndSeesItsOwnWrites() {
    s.ok(s.put("/a/k", "v1"));
    ApplyResult r =
        s.ok(
            s.txn(
                TxnRequest.newBuilder()
                    .addCompare(cmpVersion("/a/k", Compare.Result.EQUAL, 1))
                    .addSuccess(opPut("/a/k", "v2"))
                    .addSuccess(opPut("/a/j", "j"))
                    .addSuccess(opGet("/a/k"))
                    .addFailure(opPut("/a/f", "f"))));
    TxnResponse txn = r.result().getTxn();
    assertThat(txn.getSucceeded()).isTrue();
    assertThat(r.revision()).isEqualTo(2);
    assertThat(txn.getHeader().getRevision()).isEqualTo(2);
    assertThat(txn.getResponses(2).getResponseRange().getKvs(0).getValue().toStringUtf8())
        .isEqualTo("v2");
    assertThat(s.get("/a/j").getModRevision()).isEqualTo(2);
    assertThat(s.get("/a/f")).isNull();
    assertThat(r.changes()).hasSize(2);
  }

  @Test
  void failureBranchRunsWhenACompareFails() {
    s.ok(s.put("/a/k", "v1"));
    ApplyResult r =
        s.ok(
            s.txn(
                TxnRequest.newBuilder()
                    .addCompare(cmpVersion("/a/k", Compare.Result.GREATER, 5))
                    .addSuccess(opPut("/a/s", "s"))
                    .addFailure(opDelete("/a/k"))));
    assertThat(r.result().getTxn().getSucceeded()).isFalse();
    assertThat(s.get("/a/k")).isNull();
    assertThat(s.get("/a/s")).isNull();
    assertThat(r.revision()).isEqualTo(2);
  }

  @Test
  void readOnlyTxnDoesNotBumpTheRevision() {
    s.ok(s.put("/a/k", "v1"));
    ApplyResult r = s.ok(s.txn(TxnRequest.newBuilder().addSuccess(opGet("/a/k"))));
    assertThat(r.revision()).isEqualTo(1);
    assertThat(r.changes()).isEmpty();
    // A delete of nothing writes nothing either.
    assertThat(s.ok(s.txn(TxnRequest.newBuilder().addSuccess(opDelete("/a/zz")))).revision())
        .isEqualTo(1);
  }

  @Test
  void comparesEveryTargetAgainstMissingKeysAsZero() {
    long lease = s.grant("a");
    s.ok(s.put("/a/k", "abc", lease));
    assertThat(eval(cmp("/a/k", Compare.Target.CREATE).setCreateRevision(2))).isTrue();
    assertThat(eval(cmp("/a/k", Compare.Target.MOD).setModRevision(2))).isTrue();
    assertThat(eval(cmp("/a/k", Compare.Target.LEASE).setLease(lease))).isTrue();
    assertThat(eval(cmp("/a/k", Compare.Target.VALUE).setValue(Shard.bytes("abc")))).isTrue();
    assertThat(
            eval(
                cmp("/a/k", Compare.Target.VALUE)
                    .setResult(Compare.Result.GREATER)
                    .setValue(Shard.bytes("abb"))))
        .isTrue();
    assertThat(eval(cmp("/a/missing", Compare.Target.VERSION).setVersion(0))).isTrue();
    assertThat(eval(cmp("/a/missing", Compare.Target.VALUE).setValue(Shard.bytes("")))).isTrue();
    assertThat(
            eval(
                cmp("/a/k", Compare.Target.VERSION)
                    .setResult(Compare.Result.NOT_EQUAL)
                    .setVersion(1)))
        .isFalse();
    assertThat(
            eval(cmp("/a/k", Compare.Target.VERSION).setResult(Compare.Result.LESS).setVersion(2)))
        .isTrue();
  }

  @Test
  void lockTokenCompares() {
    long lease = s.grant("a");
    // Free lock: largest token 0.
    assertThat(eval(cmp("/a/l", Compare.Target.LOCK_TOKEN).setLockToken(0))).isFalse();
    assertThat(
            eval(
                cmp("/a/l", Compare.Target.LOCK_TOKEN)
                    .setResult(Compare.Result.LESS)
                    .setLockToken(1)))
        .isTrue();
    long token =
        s.ok(s.acquire("/a/l", lease, LockMode.EXCLUSIVE, 0))
            .result()
            .getLockAcquire()
            .getResponse()
            .getFencingToken();
    assertThat(eval(cmp("/a/l", Compare.Target.LOCK_TOKEN).setLockToken(token))).isTrue();
    assertThat(eval(cmp("/a/l", Compare.Target.LOCK_TOKEN).setLockToken(token - 1))).isFalse();
    assertThat(
            eval(
                cmp("/a/l", Compare.Target.LOCK_TOKEN)
                    .setResult(Compare.Result.NOT_EQUAL)
                    .setLockToken(token)))
        .isFalse();
    assertThat(
            eval(
                cmp("/a/l", Compare.Target.LOCK_TOKEN)
                    .setResult(Compare.Result.GREATER)
                    .setLockToken(token - 1)))
        .isTrue();
    s.ok(s.release("/a/l", lease));
    assertThat(eval(cmp("/a/l", Compare.Target.LOCK_TOKEN).setLockToken(token))).isFalse();
  }

  private static Compare.Builder cmp(String key, Compare.Target target) {
    return Compare.newBuilder().setKey(key).setTarget(target).setResult(Compare.Result.EQUAL);
  }

  private boolean eval(Compare.Builder c) {
    return s.ok(s.txn(TxnRequest.newBuilder().addCompare(c))).result().getTxn().getSucceeded();
  }

  @Test
  void refusesTooManyOpsAndKeysWrittenTwice() {
    s.ok(s.put("/a/k", "v"));
    byte[] before = s.hash();
    TxnRequest.Builder many = TxnRequest.newBuilder();
    for (int i = 0; i <= Limits.MAX_TXN_OPS; i++) {
      many.addSuccess(opGet("/a/k"));
    }
    assertThat(code(s.txn(many))).isEqualTo(Error.Code.TOO_MANY_OPS);
    assertThat(
            code(
                s.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(opPut("/a/x", "1"))
                        .addSuccess(opPut("/a/x", "2")))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(
            code(
                s.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(opPut("/a/x", "1"))
                        .addSuccess(opDeletePrefix("/a/")))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(
            code(
                s.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(opDelete("/a/k"))
                        .addSuccess(opPut("/a/k", "2")))))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    // A later op failing validation leaves the earlier ones unapplied.
    assertThat(
            code(
                s.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(opPut("/a/y", "1"))
                        .addSuccess(
                            io.meridian.api.v1.RequestOp.newBuilder()
                                .setRequestPut(Shard.putReq("/a/z", "v", 999))
                                .build()))))
        .isEqualTo(Error.Code.LEASE_NOT_FOUND);
    assertThat(s.hash()).isEqualTo(before);
    assertThat(s.state.revision()).isEqualTo(1);
    // Two deletes of the same key: the second deletes nothing, which is fine.
    s.ok(
        s.txn(
            TxnRequest.newBuilder()
                .addSuccess(opDelete("/a/k"))
                .addSuccess(opDeletePrefix("/a/"))));
    assertThat(s.get("/a/k")).isNull();
  }
}
