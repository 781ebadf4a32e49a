package io.meridian.cluster.internal;

import com.linecorp.armeria.server.ServiceRequestContext;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.Error;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * The shards this node replicates, and which one serves a request: lease calls go to the shard
 * encoded in the lease id; other calls to the shard named by the {@code meridian-shard} request
 * header, or to the node's only (or lowest-numbered) shard. Routing namespaces to shards is the
 * router's job.
 */
public final class Shards<R extends Replica> {
  private final Map<Integer, R> byId = new TreeMap<>();

  public Shards(Collection<? extends R> replicas) {
    replicas.forEach(r -> byId.put(r.shard(), r));
  }

  public Collection<R> all() {
    return byId.values();
  }

  /** The shard a key-addressed request goes to. */
  public R forRequest() {
    ServiceRequestContext ctx = ServiceRequestContext.currentOrNull();
    String header = ctx == null ? null : ctx.request().headers().get(ShardHeader.NAME);
    if (header == null) {
      return byId.values().iterator().next();
    }
    return byId(ShardHeader.parse(header));
  }

  /** The shard that owns lease {@code id}. */
  public R forLease(long id) {
    return byId(LeaseId.shardOfRequested(id));
  }

  private R byId(int shard) {
    R replica = byId.get(shard);
    if (replica == null) {
      throw MeridianException.of(
          Error.Code.NOT_FOUND,
          "shard %d: not served by this node (serves %s)",
          shard,
          byId.keySet());
    }
    return replica;
  }
}
