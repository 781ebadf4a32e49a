package io.meridian.cluster.kv;

/** Which leases a key may be bound to: the lease table answers, the key commands ask. */
public interface LeaseBinding {
  /**
   * Checks that lease {@code id} exists and belongs to {@code key}'s namespace.
   *
   * @throws io.meridian.api.MeridianException LEASE_NOT_FOUND or INVALID_ARGUMENT
   */
  void requireLeaseOf(long id, String key);
}
