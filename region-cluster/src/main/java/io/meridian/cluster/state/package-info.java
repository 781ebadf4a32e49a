/**
 * The pure, deterministic state machine of one shard replica, which the Ratis adapter drives.
 *
 * <pre>
 *   Command ──► ShardState.apply ──► dedup? ──► KvCommands / TxnCommand / LeaseCommands /
 *                                               LockCommands / RegistryCommands / metadata
 *                                                   │ validate everything first
 *                                                   ▼
 *                                      StateCore.putKey / deleteKey / grant / endLease
 *                                        ├─ kv.MvccStore      (versions, tombstones, compaction)
 *                                        ├─ lease.LeaseTable  (records + attached keys, derived)
 *                                        ├─ lock.LockTable    (queues over lock keys, derived)
 *                                        └─ registry.RegistryIndex (instance counts, derived)
 *                                                   │
 *                                                   ▼
 *                                      ApplyResult(result, revision, changes, events)
 * </pre>
 *
 * <p>Only the key-value store, the lease records, the dedup table and the metadata are state; the
 * lease attachments, lock queues and registry counts are indexes rebuilt from the keys when a
 * snapshot loads. Time enters only through {@code Command.now_ms}; nothing here reads a clock,
 * draws a random number or does I/O beyond the snapshot streams it is handed.
 */
package io.meridian.cluster.state;
