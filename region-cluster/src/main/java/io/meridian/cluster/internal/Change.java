package io.meridian.cluster.internal;

import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.proto.LeaseRecord;

/**
 * One change of client-visible state made at a revision. The changes of one {@link ApplyResult}
 * share its revision and are listed in the order they were made, which is the order watchers and
 * replication must replay them in.
 */
public sealed interface Change {
  /** A key was created or got a new version; {@code prev} is the version it replaced, or null. */
  record KvPut(KeyValue kv, KeyValue prev) implements Change {}

  /** A key was deleted at {@code revision}; {@code prev} is its last version. */
  record KvDelete(String key, long revision, KeyValue prev) implements Change {}

  /** A lease was granted. */
  record LeaseGranted(LeaseRecord lease) implements Change {}

  /** A lease was revoked or expired (its keys' deletions precede this change). */
  record LeaseRevoked(long id) implements Change {}
}
