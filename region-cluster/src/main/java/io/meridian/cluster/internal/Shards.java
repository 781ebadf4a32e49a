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
 * header, or to the node's only shard. A node that hosts several shards refuses a call without the
 * header: it does not hold the routing table, so any shard it picked could be the wrong one.
 * Routing namespaces to shards is the router's job.
 */
public final class Shards<R extends Replica> {
  private final Map<Integer, R> byId = new TreeMap<>();

  public Shards(Collection<? extends R> replicas) {
    replicas.forEach(r -> byId.put(r.shard(), r));
  }

  public Collection<R> all() {
    return byId.values();
  }

  /**
   * The shard a request that is not addressed by a lease id goes to.
   *
   * @throws MeridianException INVALID_ARGUMENT when the header is missing on a node with several
   *     shards, or is not a shard number; NOT_FOUND when it names a shard this node does not serve
   */
  public R forRequest() {
    ServiceRequestContext ctx = ServiceRequestContext.currentOrNull();
    String header = ctx == null ? null : ctx.request().headers().get(ShardHeader.NAME);
    if (header != null) {
      return byId(ShardHeader.parse(header));
    }
    if (byId.size() != 1) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "%s: missing; this node serves shards %s, so name one in the header (or call a router,"
              + " which picks the shard from the key)",
          ShardHeader.NAME,
          byId.keySet());
    }
    return byId.values().iterator().next();
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
