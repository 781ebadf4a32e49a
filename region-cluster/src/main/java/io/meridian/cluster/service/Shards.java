package io.meridian.cluster.service;

import com.linecorp.armeria.server.ServiceRequestContext;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.Error;
import io.meridian.cluster.node.ShardReplica;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * The shards this node replicates, and which one serves a request: lease calls go to the shard
 * encoded in the lease id; other calls to the shard named by the {@code meridian-shard} request
 * header, or to the node's only (or lowest-numbered) shard. Routing namespaces to shards is the
 * router's job.
 */
public final class Shards {
  private final Map<Integer, ShardReplica> byId = new TreeMap<>();

  public Shards(Collection<ShardReplica> replicas) {
    replicas.forEach(r -> byId.put(r.shard(), r));
  }

  public Collection<ShardReplica> all() {
    return byId.values();
  }

  /** The shard a key-addressed request goes to. */
  public ShardReplica forRequest() {
    ServiceRequestContext ctx = ServiceRequestContext.currentOrNull();
    String header = ctx == null ? null : ctx.request().headers().get(ShardHeader.NAME);
    if (header == null) {
      return byId.values().iterator().next();
    }
    try {
      return byId(Integer.parseInt(header.trim()));
    } catch (NumberFormatException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "%s: %s (expected: a shard number)",
          ShardHeader.NAME,
          header);
    }
  }

  /** The shard that owns lease {@code id}. */
  public ShardReplica forLease(long id) {
    if (id <= 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "lease: %d (expected: a positive id from Grant)", id);
    }
    return byId(LeaseId.shardOf(id));
  }

  private ShardReplica byId(int shard) {
    ShardReplica replica = byId.get(shard);
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
