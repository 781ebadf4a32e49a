package io.meridian.router;

import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.Collection;
import java.util.List;

/**
 * The namespaces a key, prefix or interval can touch: one (a key, a prefix such as {@code
 * /team-a/jobs/}, an interval inside {@code /team-a/}), or several (a prefix such as {@code /team},
 * an interval across namespaces, everything from a key on). Several namespaces may live on several
 * shards, so the router gathers such reads from every shard and refuses such writes.
 */
record KeySpan(String namespace) {
  static final String ALL_AFTER = "\u0000";

  static KeySpan of(String key, String rangeEnd, boolean prefix) {
    if (key == null || key.isEmpty() || key.charAt(0) != '/') {
      KeyPath.checkReadable(key);
    }
    boolean inOne = key.indexOf('/', 1) > 0;
    String namespace = KeyPath.namespaceOf(key);
    if (prefix) {
      return inOne ? one(key) : new KeySpan(null);
    }
    if (rangeEnd == null || rangeEnd.isEmpty()) {
      return one(key);
    }
    if (inOne
        && !rangeEnd.equals(ALL_AFTER)
        && (rangeEnd.startsWith("/" + namespace + "/") || rangeEnd.equals("/" + namespace + "0"))) {
      return one(key);
    }
    return new KeySpan(null);
  }

  private static KeySpan one(String key) {
    KeyPath.checkReadable(key);
    return new KeySpan(KeyPath.namespaceOf(key));
  }

  boolean single() {
    return namespace != null;
  }

  /** The shards this span can touch in {@code table}. */
  Collection<RoutingTable.Shard> shards(RoutingTable table) {
    return single() ? List.of(table.shardOf(namespace)) : table.shards().values();
  }

  /** The one shard this span touches; several fail with {@code INVALID_ARGUMENT}. */
  RoutingTable.Shard oneShard(RoutingTable table, String what) {
    Collection<RoutingTable.Shard> shards = shards(table);
    if (shards.size() > 1) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "%s spans namespaces, which live on several shards (%d); Meridian has no cross-shard"
              + " operations: name keys within one namespace",
          what,
          shards.size());
    }
    return shards.iterator().next();
  }
}
