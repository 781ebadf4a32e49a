package io.meridian.cluster.kv;

import io.meridian.api.KeyPath;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.CompactionResponse;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.proto.CommandResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Put, delete-range, range and compaction with etcd v3 semantics. Every method validates before it
 * writes, so a refused request leaves the state untouched. Transactions are in {@link TxnCommand}.
 *
 * <p>Keys under {@code /<ns>/.meridian/} belong to Meridian: a single-key put or delete of one is
 * refused (RESERVED_KEY) and range deletes skip them, so a client's {@code delete /team-a/ prefix}
 * cannot silently drop lock waiters behind the lock table's back.
 */
public final class KvCommands {
  private final StateCore core;
  private final KeySpace keys;
  private final LeaseBinding leases;

  public KvCommands(StateCore core, KeySpace keys, LeaseBinding leases) {
    this.core = core;
    this.keys = keys;
    this.leases = leases;
  }

  // ---- reads ----

  /** Checks a range request against the current state without reading. */
  KeyRange checkRange(RangeRequest req) {
    KeyRange range = KeyRange.of(req.getKey(), req.getRangeEnd(), req.getPrefix());
    if (req.getLimit() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "limit: %d (expected: >= 0, 0 for none)", req.getLimit());
    }
    long rev = req.getRevision();
    if (rev < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "revision: %d (expected: >= 0, 0 for current)", rev);
    }
    if (rev > core.revision()) {
      throw MeridianException.of(
          Error.Code.FUTURE_REVISION,
          "revision: %d (expected: <= the current revision %d)",
          rev,
          core.revision());
    }
    if (rev != 0 && rev < core.compactRevision()) {
      throw compacted(rev);
    }
    return range;
  }

  public MeridianException compacted(long rev) {
    return new MeridianException(
        Error.Code.COMPACTED,
        String.format(
            "revision: %d (history before revision %d was compacted)", rev, core.compactRevision()),
        Map.of("compact_revision", Long.toString(core.compactRevision())));
  }

  /** Reads; revision 0 sees the latest writes, including earlier writes of the same txn. */
  public RangeResponse range(RangeRequest req, ResponseHeader header) {
    KeyRange range = checkRange(req);
    long rev = req.getRevision() == 0 ? Long.MAX_VALUE : req.getRevision();
    List<KeyValue> kvs = keys.store().range(range, rev);
    RangeResponse.Builder out = RangeResponse.newBuilder().setHeader(header).setCount(kvs.size());
    long limit = req.getLimit();
    boolean cut = limit > 0 && kvs.size() > limit;
    out.setMore(cut);
    if (!req.getCountOnly()) {
      int n = cut ? (int) limit : kvs.size();
      for (int i = 0; i < n; i++) {
        KeyValue kv = kvs.get(i);
        out.addKvs(req.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
      }
    }
    return out.build();
  }

  // ---- put ----

  /** Checks what a put needs regardless of state: a writable key and a value within limits. */
  static void checkPutSyntax(PutRequest req) {
    KeyPath.checkWritable(req.getKey());
    if (req.getValue().size() > Limits.MAX_VALUE_BYTES) {
      throw MeridianException.of(
          Error.Code.VALUE_TOO_LARGE,
          "value: %d bytes (expected: <= %d)",
          req.getValue().size(),
          Limits.MAX_VALUE_BYTES);
    }
    if (req.getLease() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lease: %d (expected: a lease id, 0 for none)",
          req.getLease());
    }
  }

  public CommandResult put(PutRequest req, Batch batch) {
    core.requireWritable();
    checkPutSyntax(req);
    if (req.getLease() != 0) {
      leases.requireLeaseOf(req.getLease(), req.getKey());
    }
    core.checkQuota(MvccStore.versionBytes(req.getKey(), req.getValue().size()));
    PutResponse resp = applyPut(req, batch, null);
    return CommandResult.newBuilder().setPut(resp).build();
  }

  /** Writes a checked put; {@code header} null means "as of the end of the batch". */
  PutResponse applyPut(PutRequest req, Batch batch, ResponseHeader header) {
    KeyValue prev = keys.putKey(batch, req.getKey(), req.getValue(), req.getLease());
    PutResponse.Builder out =
        PutResponse.newBuilder().setHeader(header != null ? header : core.header(batch));
    if (req.getPrevKv() && prev != null) {
      out.setPrevKv(prev);
    }
    return out.build();
  }

  // ---- delete ----

  /** The keys a delete selects; a single key must be writable. */
  static KeyRange deleteRange(DeleteRangeRequest req) {
    if (!req.getPrefix() && req.getRangeEnd().isEmpty()) {
      KeyPath.checkWritable(req.getKey());
    }
    return KeyRange.of(req.getKey(), req.getRangeEnd(), req.getPrefix());
  }

  /** The current user keys (never Meridian's reserved keys) a delete would remove. */
  List<KeyValue> doomed(KeyRange range) {
    List<KeyValue> out = new ArrayList<>();
    for (KeyValue kv : keys.store().currentRange(range)) {
      if (!KeyPath.isReserved(kv.getKey())) {
        out.add(kv);
      }
    }
    return out;
  }

  public CommandResult deleteRange(DeleteRangeRequest req, Batch batch) {
    core.requireWritable();
    KeyRange range = deleteRange(req);
    return CommandResult.newBuilder().setDeleteRange(applyDelete(req, range, batch, null)).build();
  }

  DeleteRangeResponse applyDelete(
      DeleteRangeRequest req, KeyRange range, Batch batch, ResponseHeader header) {
    List<KeyValue> doomed = doomed(range);
    DeleteRangeResponse.Builder out = DeleteRangeResponse.newBuilder().setDeleted(doomed.size());
    for (KeyValue kv : doomed) {
      // Reserved keys are skipped above, so no lock key is deleted here.
      keys.deleteKey(batch, kv.getKey(), LockEvent.Reason.RELEASED);
      if (req.getPrevKv()) {
        out.addPrevKvs(kv);
      }
    }
    return out.setHeader(header != null ? header : core.header(batch)).build();
  }

  // ---- compaction ----

  public CommandResult compact(CompactionRequest req, Batch batch) {
    long rev = req.getRevision();
    if (rev > core.revision()) {
      throw MeridianException.of(
          Error.Code.FUTURE_REVISION,
          "revision: %d (expected: <= the current revision %d)",
          rev,
          core.revision());
    }
    if (rev <= core.compactRevision()) {
      throw compacted(rev);
    }
    keys.store().compact(rev);
    core.journal().trimThrough(rev);
    core.setCompactRevision(rev);
    return CommandResult.newBuilder()
        .setCompact(CompactionResponse.newBuilder().setHeader(core.header(batch)))
        .build();
  }
}
