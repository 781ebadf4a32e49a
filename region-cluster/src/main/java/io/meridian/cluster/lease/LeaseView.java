package io.meridian.cluster.lease;

import java.util.List;

/**
 * A read-only view of one lease.
 *
 * @param remainingMs the last checkpointed remaining time to live, 0 if never checkpointed
 * @param keys the attached keys (including lock keys), in key order
 */
public record LeaseView(
    long id,
    String namespace,
    long ttlMs,
    long remainingMs,
    long grantRevision,
    List<String> keys) {
  public LeaseView {
    keys = List.copyOf(keys);
  }
}
