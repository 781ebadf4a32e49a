package io.meridian.cluster.kv;

import com.google.protobuf.ByteString;
import io.meridian.api.KeyPath;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.ResponseOp;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.proto.CommandResult;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Transactions: compares, then the success or failure ops applied in order at one new revision
 * (none if the executed branch writes nothing). Reads inside see the branch's earlier writes.
 *
 * <p>The executed branch is planned against the current state before anything is written (leases,
 * revisions, keys written twice, quota), so a refused transaction changes nothing and an accepted
 * one cannot fail half-way.
 */
public final class TxnCommand {
  private final StateCore core;
  private final KeySpace keys;
  private final KvCommands kv;
  private final LeaseBinding leases;
  private final LockTokens locks;

  public TxnCommand(
      StateCore core, KeySpace keys, KvCommands kv, LeaseBinding leases, LockTokens locks) {
    this.core = core;
    this.keys = keys;
    this.kv = kv;
    this.leases = leases;
    this.locks = locks;
  }

  /** What the executed branch will do, worked out before any write. */
  private record Plan(boolean writes, boolean grows, long growth) {}

  public CommandResult apply(TxnRequest req, Batch batch) {
    core.requireWritable();
    int ops = req.getCompareCount() + req.getSuccessCount() + req.getFailureCount();
    if (ops > Limits.MAX_TXN_OPS) {
      throw MeridianException.of(
          Error.Code.TOO_MANY_OPS,
          "txn: %d compares and ops (expected: <= %d)",
          ops,
          Limits.MAX_TXN_OPS);
    }
    for (Compare c : req.getCompareList()) {
      checkCompare(c);
    }
    for (RequestOp op : req.getSuccessList()) {
      checkSyntax(op);
    }
    for (RequestOp op : req.getFailureList()) {
      checkSyntax(op);
    }
    boolean succeeded = true;
    for (Compare c : req.getCompareList()) {
      succeeded &= evaluate(c);
    }
    List<RequestOp> branch = succeeded ? req.getSuccessList() : req.getFailureList();
    Plan plan = plan(branch);
    if (plan.grows()) {
      core.checkQuota(plan.growth());
    }
    ResponseHeader header =
        plan.writes()
            ? core.header().toBuilder().setRevision(batch.revision).build()
            : core.header();
    TxnResponse.Builder out = TxnResponse.newBuilder().setHeader(header).setSucceeded(succeeded);
    for (RequestOp op : branch) {
      out.addResponses(execute(op, batch, header));
    }
    return CommandResult.newBuilder().setTxn(out).build();
  }

  private void checkCompare(Compare c) {
    if (c.getTarget() == Compare.Target.UNRECOGNIZED
        || c.getResult() == Compare.Result.UNRECOGNIZED) {
      throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "compare: unknown target or result");
    }
    if (c.getTarget() == Compare.Target.LOCK_TOKEN) {
      locks.checkLockName(c.getKey());
    } else {
      KeyPath.checkReadable(c.getKey());
    }
  }

  private void checkSyntax(RequestOp op) {
    switch (op.getRequestCase()) {
      case REQUEST_PUT -> KvCommands.checkPutSyntax(op.getRequestPut());
      case REQUEST_DELETE_RANGE -> KvCommands.deleteRange(op.getRequestDeleteRange());
      case REQUEST_RANGE -> {
        var r = op.getRequestRange();
        KeyRange.of(r.getKey(), r.getRangeEnd(), r.getPrefix());
        if (r.getLimit() < 0 || r.getRevision() < 0) {
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "range: limit %d, revision %d (expected: >= 0)",
              r.getLimit(),
              r.getRevision());
        }
      }
      default -> throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "txn: empty op");
    }
  }

  private boolean evaluate(Compare c) {
    if (c.getTarget() == Compare.Target.LOCK_TOKEN) {
      String name = c.getKey();
      long token = c.getLockToken();
      return switch (c.getResult()) {
        case EQUAL -> locks.heldWithToken(name, token);
        case NOT_EQUAL -> !locks.heldWithToken(name, token);
        case GREATER -> locks.maxHolderToken(name) > token;
        case LESS -> locks.maxHolderToken(name) < token;
        default -> false;
      };
    }
    // A missing key has version, create, mod and lease 0 and an empty value.
    KeyValue kv = keys.store().current(c.getKey());
    if (kv == null) {
      kv = KeyValue.getDefaultInstance();
    }
    int cmp =
        switch (c.getTarget()) {
          case VERSION -> Long.compare(kv.getVersion(), c.getVersion());
          case CREATE -> Long.compare(kv.getCreateRevision(), c.getCreateRevision());
          case MOD -> Long.compare(kv.getModRevision(), c.getModRevision());
          case LEASE -> Long.compare(kv.getLease(), c.getLease());
          case VALUE ->
              ByteString.unsignedLexicographicalComparator().compare(kv.getValue(), c.getValue());
          default -> throw new IllegalStateException("checked above");
        };
    return switch (c.getResult()) {
      case EQUAL -> cmp == 0;
      case NOT_EQUAL -> cmp != 0;
      case GREATER -> cmp > 0;
      case LESS -> cmp < 0;
      default -> false;
    };
  }

  /**
   * Simulates the branch against the current state: which keys it writes (each at most once), how
   * many bytes it adds, and whether its leases and read revisions are valid.
   */
  private Plan plan(List<RequestOp> branch) {
    Set<String> written = new HashSet<>();
    List<String> putKeys = new ArrayList<>();
    boolean grows = false;
    long growth = 0;
    for (RequestOp op : branch) {
      switch (op.getRequestCase()) {
        case REQUEST_PUT -> {
          PutRequest put = op.getRequestPut();
          if (put.getLease() != 0) {
            leases.requireLeaseOf(put.getLease(), put.getKey());
          }
          if (!written.add(put.getKey())) {
            throw writtenTwice(put.getKey());
          }
          putKeys.add(put.getKey());
          grows = true;
          growth += MvccStore.versionBytes(put.getKey(), put.getValue().size());
        }
        case REQUEST_DELETE_RANGE -> {
          KeyRange range = KvCommands.deleteRange(op.getRequestDeleteRange());
          for (String key : putKeys) {
            if (range.contains(key)) {
              throw writtenTwice(key);
            }
          }
          for (KeyValue doomed : kv.doomed(range)) {
            // Deleted by an earlier delete of this branch: this one deletes nothing more.
            if (written.add(doomed.getKey())) {
              growth += MvccStore.versionBytes(doomed.getKey(), 0);
            }
          }
        }
        case REQUEST_RANGE -> kv.checkRange(op.getRequestRange());
        default -> throw new IllegalStateException("checked above");
      }
    }
    return new Plan(!written.isEmpty(), grows, growth);
  }

  private static MeridianException writtenTwice(String key) {
    return MeridianException.of(
        Error.Code.INVALID_ARGUMENT,
        "txn: key %s is written twice (expected: each key put or deleted at most once per txn)",
        KeyPath.abbreviate(key));
  }

  private ResponseOp execute(RequestOp op, Batch batch, ResponseHeader header) {
    return switch (op.getRequestCase()) {
      case REQUEST_PUT ->
          ResponseOp.newBuilder()
              .setResponsePut(kv.applyPut(op.getRequestPut(), batch, header))
              .build();
      case REQUEST_DELETE_RANGE -> {
        DeleteRangeRequest del = op.getRequestDeleteRange();
        yield ResponseOp.newBuilder()
            .setResponseDeleteRange(kv.applyDelete(del, KvCommands.deleteRange(del), batch, header))
            .build();
      }
      case REQUEST_RANGE ->
          ResponseOp.newBuilder().setResponseRange(kv.range(op.getRequestRange(), header)).build();
      default -> throw new IllegalStateException("checked above");
    };
  }
}
