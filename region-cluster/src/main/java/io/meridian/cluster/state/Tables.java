package io.meridian.cluster.state;

import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.kv.MvccStore;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.registry.RegistryIndex;

/**
 * Everything a shard's state holds, wired together: the metadata, the keys, and the tables derived
 * from the keys (registered with the key space, so every key write keeps them in step).
 */
record Tables(
    StateCore core, KeySpace keys, LeaseTable leases, LockTable locks, RegistryIndex registry) {

  /** An empty state of {@code shard}. */
  static Tables empty(int shard) {
    return of(new StateCore(shard), new MvccStore(), new LeaseTable());
  }

  /** The tables over {@code core}, {@code store} and {@code leases} (loaded, or new). */
  static Tables of(StateCore core, MvccStore store, LeaseTable leases) {
    KeySpace keys = new KeySpace(store);
    LockTable locks = new LockTable();
    RegistryIndex registry = new RegistryIndex();
    keys.index(leases);
    keys.index(locks);
    keys.index(registry);
    core.countTowardQuota(() -> store.bytes() + leases.bytes());
    return new Tables(core, keys, leases, locks, registry);
  }
}
