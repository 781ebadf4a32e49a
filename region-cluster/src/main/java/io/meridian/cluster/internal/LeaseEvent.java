package io.meridian.cluster.internal;

/** A lease began or ended; the leader's expiry timers follow these. */
public sealed interface LeaseEvent {
  /** Lease {@code id} was granted with a time to live of {@code ttlMs}. */
  record Granted(long id, long ttlMs) implements LeaseEvent {}

  /** Lease {@code id} was revoked or expired. */
  record Ended(long id) implements LeaseEvent {}
}
