package io.meridian.cluster.kv;

import io.grpc.stub.StreamObserver;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.CompactionResponse;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Replica;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.serving.Replies;

/** The KV service: checks requests, proposes writes, serves reads at their consistency. */
public final class KvService extends KVGrpc.KVImplBase {
  private final Shards<?> shards;

  public KvService(Shards<?> shards) {
    this.shards = shards;
  }

  @Override
  public void range(RangeRequest request, StreamObserver<RangeResponse> observer) {
    Calls.read(
        observer,
        shards::forRequest,
        Query.newBuilder().setRange(request).build(),
        request.getConsistency(),
        QueryResult::getRange);
  }

  @Override
  public void put(PutRequest request, StreamObserver<PutResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          checkPut(request);
          Replica replica = shards.forRequest();
          return Calls.propose(
              replica,
              Command.newBuilder().setRequestId(request.getRequestId()).setPut(request).build(),
              CommandResult::getPut);
        });
  }

  @Override
  public void deleteRange(
      DeleteRangeRequest request, StreamObserver<DeleteRangeResponse> observer) {
    Calls.propose(
        observer,
        shards::forRequest,
        Command.newBuilder().setRequestId(request.getRequestId()).setDeleteRange(request).build(),
        CommandResult::getDeleteRange);
  }

  @Override
  public void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          checkTxn(request);
          Replica replica = shards.forRequest();
          return Calls.propose(
              replica,
              Command.newBuilder().setRequestId(request.getRequestId()).setTxn(request).build(),
              CommandResult::getTxn);
        });
  }

  @Override
  public void compact(CompactionRequest request, StreamObserver<CompactionResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          if (request.getRevision() <= 0) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT, "revision: %d (expected: > 0)", request.getRevision());
          }
          Replica replica = shards.forRequest();
          return Calls.propose(
              replica, Command.newBuilder().setCompact(request).build(), CommandResult::getCompact);
        });
  }

  // Requests are validated by the state machine, which refuses bad input without changing
  // state. Here only what must hold before a log entry exists: sizes.

  static void checkPut(PutRequest request) {
    if (request.getValue().size() > Limits.MAX_VALUE_BYTES) {
      throw MeridianException.of(
          Error.Code.VALUE_TOO_LARGE,
          "value: %d bytes (expected: <= %d)",
          request.getValue().size(),
          Limits.MAX_VALUE_BYTES);
    }
    checkSize(request);
  }

  public static void checkSize(com.google.protobuf.MessageLite request) {
    int size = request.getSerializedSize();
    if (size > Limits.MAX_REQUEST_BYTES) {
      throw MeridianException.of(
          Error.Code.REQUEST_TOO_LARGE,
          "request: %d bytes (expected: <= %d)",
          size,
          Limits.MAX_REQUEST_BYTES);
    }
  }

  static void checkTxn(TxnRequest request) {
    int ops = request.getCompareCount() + request.getSuccessCount() + request.getFailureCount();
    if (ops > Limits.MAX_TXN_OPS) {
      throw MeridianException.of(
          Error.Code.TOO_MANY_OPS, "txn: %d ops (expected: <= %d)", ops, Limits.MAX_TXN_OPS);
    }
    checkSize(request);
  }
}
