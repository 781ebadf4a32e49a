package io.meridian.cluster.kv;

/** The fencing tokens a transaction's {@code LOCK_TOKEN} compares read: the lock table answers. */
public interface LockTokens {
  /**
   * Checks a lock name a compare names.
   *
   * @throws io.meridian.api.MeridianException INVALID_ARGUMENT for a bad name
   */
  void checkLockName(String name);

  /** Whether lock {@code name} is held with exactly {@code token}. */
  boolean heldWithToken(String name, long token);

  /** The largest token among {@code name}'s holders; 0 if none. */
  long maxHolderToken(String name);
}
