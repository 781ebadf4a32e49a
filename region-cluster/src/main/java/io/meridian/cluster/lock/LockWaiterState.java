package io.meridian.cluster.lock;

/** Where one lease's wait for one lock stands in the applied state. */
public sealed interface LockWaiterState {
  /** The lease holds the lock. */
  record Held(long token, String key, long grantRevision) implements LockWaiterState {}

  /** The lease is still queued. */
  record Waiting() implements LockWaiterState {}

  /** The lease neither holds nor waits for the lock; {@code leaseExists} tells why it left. */
  record Gone(boolean leaseExists) implements LockWaiterState {}
}
