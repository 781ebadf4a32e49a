package io.meridian.client;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Keys and values, with etcd v3 semantics (revisions, versions, leases), sync and async.
 *
 * <p>Writes are safe to retry: each put, delete and transaction carries a request id (one is
 * generated when the request has none), and the shard applies a request id once. A write retried
 * after a leader change therefore takes effect once. Reads default to {@code LINEARIZABLE}, as in
 * etcd.
 *
 * <pre>{@code
 * KvClient kv = client.kv();
 * kv.put("/orders/config/limit", ByteString.copyFromUtf8("100"));
 * long limit =
 *     kv.get("/orders/config/limit")
 *         .map(v -> Long.parseLong(v.getValue().toStringUtf8()))
 *         .orElse(10L);
 * kv.putAsync(PutRequest.newBuilder().setKey("/orders/a").setValue(value).build())
 *     .thenAccept(r -> log.info("written at revision {}", r.getHeader().getRevision()));
 * }</pre>
 */
public final class KvClient {
  private final KVGrpc.KVStub repeatable;
  private final KVGrpc.KVStub once;
  private final Supplier<String> requestIds;

  KvClient(KVGrpc.KVStub repeatable, KVGrpc.KVStub once, Supplier<String> requestIds) {
    this.repeatable = repeatable;
    this.once = once;
    this.requestIds = requestIds;
  }

  /** The keys {@code request} selects. */
  public CompletableFuture<RangeResponse> rangeAsync(RangeRequest request) {
    return Unary.call(repeatable::range, request, true);
  }

  public RangeResponse range(RangeRequest request) {
    return Unary.await(rangeAsync(request));
  }

  /** The latest value of {@code key}, linearizable; empty if it does not exist. */
  public CompletableFuture<Optional<KeyValue>> getAsync(String key) {
    return rangeAsync(
            RangeRequest.newBuilder().setKey(key).setConsistency(Consistency.LINEARIZABLE).build())
        .thenApply(r -> r.getKvsCount() == 0 ? Optional.empty() : Optional.of(r.getKvs(0)));
  }

  public Optional<KeyValue> get(String key) {
    return Unary.await(getAsync(key));
  }

  /** Writes {@code request}, with a request id so that a retry applies it once. */
  public CompletableFuture<PutResponse> putAsync(PutRequest request) {
    PutRequest withId =
        request.getRequestId().isEmpty()
            ? request.toBuilder().setRequestId(requestIds.get()).build()
            : request;
    return Unary.call(repeatable::put, withId, true);
  }

  public PutResponse put(PutRequest request) {
    return Unary.await(putAsync(request));
  }

  public PutResponse put(String key, ByteString value) {
    return put(PutRequest.newBuilder().setKey(key).setValue(value).build());
  }

  /** Deletes what {@code request} selects, with a request id so that a retry applies it once. */
  public CompletableFuture<DeleteRangeResponse> deleteAsync(DeleteRangeRequest request) {
    DeleteRangeRequest withId =
        request.getRequestId().isEmpty()
            ? request.toBuilder().setRequestId(requestIds.get()).build()
            : request;
    return Unary.call(repeatable::deleteRange, withId, true);
  }

  public DeleteRangeResponse delete(DeleteRangeRequest request) {
    return Unary.await(deleteAsync(request));
  }

  public DeleteRangeResponse delete(String key) {
    return delete(DeleteRangeRequest.newBuilder().setKey(key).build());
  }

  /** Runs {@code request} atomically, with a request id so that a retry applies it once. */
  public CompletableFuture<TxnResponse> txnAsync(TxnRequest request) {
    TxnRequest withId =
        request.getRequestId().isEmpty()
            ? request.toBuilder().setRequestId(requestIds.get()).build()
            : request;
    return Unary.call(repeatable::txn, withId, true);
  }

  public TxnResponse txn(TxnRequest request) {
    return Unary.await(txnAsync(request));
  }

  /**
   * Writes {@code request} without a request id and without retrying once a member may have
   * received it: if no answer comes, the call fails with {@code OUTCOME_UNKNOWN}. For callers that
   * manage their own idempotency.
   */
  public CompletableFuture<PutResponse> putOnceAsync(PutRequest request) {
    return Unary.call(once::put, request, false);
  }
}
