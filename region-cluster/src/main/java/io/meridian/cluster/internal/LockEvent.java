package io.meridian.cluster.internal;

/** A lock waiter was granted or removed; the node uses these to answer waiting acquires. */
public sealed interface LockEvent {
  /** Why a waiter or holder went away. */
  enum Reason {
    RELEASED,
    CANCELLED,
    LEASE_ENDED
  }

  /** (name, lease) now holds the lock with {@code token}, granted at {@code revision}. */
  record Granted(String name, long lease, long token, String key, long revision)
      implements LockEvent {}

  /** (name, lease) no longer waits for or holds the lock, as of {@code revision}. */
  record Removed(String name, long lease, Reason reason, long revision) implements LockEvent {}
}
