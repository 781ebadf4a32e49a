package io.meridian.router;

import static io.meridian.serving.Replies.reply;

import io.grpc.Deadline;
import io.grpc.stub.StreamObserver;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.CompactionResponse;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KVGrpc.KVStub;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.client.Stubs;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * KV through the router: a key's namespace picks the shard; writes go to its primary region; reads
 * by consistency (see {@link Router}). A range across namespaces is gathered from every shard and
 * merged in key order; a transaction or delete across shards is refused.
 */
final class RoutedKv extends KVGrpc.KVImplBase {
  private final Router router;

  RoutedKv(Router router) {
    this.router = router;
  }

  @Override
  public void range(RangeRequest req, StreamObserver<RangeResponse> out) {
    reply(out, () -> range(req, router.deadline()));
  }

  private CompletableFuture<RangeResponse> range(RangeRequest req, Deadline deadline) {
    RoutingTable table = router.table();
    KeySpan span = KeySpan.of(req.getKey(), req.getRangeEnd(), req.getPrefix());
    Consistency consistency = req.getConsistency();
    UpstreamCall<RangeResponse> call = UpstreamCall.of(req, Stubs::kv, KVStub::range);
    if (span.single()) {
      return router.read(
          table.shardOf(span.namespace()),
          span.namespace(),
          consistency,
          req,
          consistency == Consistency.CACHED,
          null,
          deadline,
          call);
    }
    if (req.getRevision() != 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "revision: %d; a range across namespaces is read from each shard at its own revision,"
              + " so a revision can be named only within one namespace",
          req.getRevision());
    }
    return router
        .gather(
            table.shards().values(),
            s ->
                router.read(
                    s,
                    null,
                    consistency,
                    req,
                    consistency == Consistency.CACHED,
                    null,
                    deadline,
                    call))
        .thenApply(parts -> merge(req, parts));
  }

  /** Parts of one range from several shards, in key order, within the request's limit. */
  static RangeResponse merge(RangeRequest req, List<RangeResponse> parts) {
    List<KeyValue> kvs = new ArrayList<>();
    long count = 0;
    boolean more = false;
    Map<Integer, Long> revisions = new TreeMap<>();
    for (RangeResponse part : parts) {
      kvs.addAll(part.getKvsList());
      count += part.getCount();
      more |= part.getMore();
      revisions.put(part.getHeader().getShard(), part.getHeader().getRevision());
    }
    kvs.sort(Comparator.comparing(KeyValue::getKey, KeyPath.ORDER));
    if (req.getLimit() > 0 && kvs.size() > req.getLimit()) {
      kvs = kvs.subList(0, (int) req.getLimit());
      more = true;
    }
    ResponseHeader.Builder header = ResponseHeader.newBuilder();
    revisions.forEach(header::putShardRevisions);
    return RangeResponse.newBuilder()
        .setHeader(header)
        .addAllKvs(kvs)
        .setCount(count)
        .setMore(more)
        .build();
  }

  @Override
  public void put(PutRequest req, StreamObserver<PutResponse> out) {
    router.forward(router.identified(req), out, byKey(req.getKey()), Stubs::kv, KVStub::put);
  }

  @Override
  public void deleteRange(DeleteRangeRequest req, StreamObserver<DeleteRangeResponse> out) {
    router.forward(
        router.identified(req),
        out,
        t -> KeySpan.of(req.getKey(), req.getRangeEnd(), req.getPrefix()).oneShard(t, "delete"),
        Stubs::kv,
        KVStub::deleteRange);
  }

  @Override
  public void txn(TxnRequest req, StreamObserver<TxnResponse> out) {
    router.forward(router.identified(req), out, t -> shardOfTxn(t, req), Stubs::kv, KVStub::txn);
  }

  @Override
  public void compact(CompactionRequest req, StreamObserver<CompactionResponse> out) {
    router.forward(req, out, Router.byHeader("compaction"), Stubs::kv, KVStub::compact);
  }

  private static Function<RoutingTable, RoutingTable.Shard> byKey(String key) {
    return table -> KeySpan.of(key, "", false).oneShard(table, "key");
  }

  /**
   * The one shard every compare and op of {@code txn} touches; keys on two shards fail with
   * INVALID_ARGUMENT naming one key of each.
   */
  static RoutingTable.Shard shardOfTxn(RoutingTable table, TxnRequest txn) {
    // Each key the transaction touches, with the span it reaches (a range op may span more).
    // Every span counts: a compare on /a/x and a delete from /a/x to the end of the keyspace
    // touch one key but two spans.
    List<Map.Entry<String, KeySpan>> touched = new ArrayList<>();
    for (Compare c : txn.getCompareList()) {
      touched.add(Map.entry(c.getKey(), KeySpan.of(c.getKey(), "", false)));
    }
    List<RequestOp> ops = new ArrayList<>(txn.getSuccessList());
    ops.addAll(txn.getFailureList());
    for (RequestOp op : ops) {
      switch (op.getRequestCase()) {
        case REQUEST_RANGE -> {
          RangeRequest r = op.getRequestRange();
          touched.add(
              Map.entry(r.getKey(), KeySpan.of(r.getKey(), r.getRangeEnd(), r.getPrefix())));
        }
        case REQUEST_PUT -> {
          String key = op.getRequestPut().getKey();
          touched.add(Map.entry(key, KeySpan.of(key, "", false)));
        }
        case REQUEST_DELETE_RANGE -> {
          DeleteRangeRequest d = op.getRequestDeleteRange();
          touched.add(
              Map.entry(d.getKey(), KeySpan.of(d.getKey(), d.getRangeEnd(), d.getPrefix())));
        }
        default -> {}
      }
    }
    if (touched.isEmpty()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "txn: no compares and no ops, so no key to route by (expected: at least one key)");
    }
    RoutingTable.Shard first = null;
    String firstKey = null;
    for (Map.Entry<String, KeySpan> t : touched) {
      RoutingTable.Shard shard = t.getValue().oneShard(table, "txn: " + t.getKey());
      if (first == null) {
        first = shard;
        firstKey = t.getKey();
      } else if (shard.id() != first.id()) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "txn: keys on two shards (%s on shard %d, %s on shard %d); Meridian has no cross-shard"
                + " transactions: keep a transaction's keys in namespaces of one shard (pin them"
                + " together in the routing table)",
            KeyPath.abbreviate(firstKey),
            first.id(),
            KeyPath.abbreviate(t.getKey()),
            shard.id());
      }
    }
    return first;
  }
}
