/**
 * The pure, deterministic state machine of one shard replica, composed from the domains' tables and
 * commands; the Ratis adapter ({@code raft}) drives it.
 *
 * <pre>
 *   Command ──► ShardState.apply ──► dedup? ──► kv.KvCommands / kv.TxnCommand / lease.LeaseCommands /
 *                                               lock.LockCommands / registry.RegistryCommands /
 *                                               replication.ReplicationCommands / metadata
 *                                                   │ validate everything first
 *                                                   ▼
 *                                      kv.KeySpace.putKey / deleteKey   (every key write)
 *                                        ├─ kv.MvccStore           (versions, tombstones, compaction)
 *                                        └─ kv.KeyIndex, kept in step:
 *                                             ├─ lease.LeaseTable   (records + attached keys)
 *                                             ├─ lock.LockTable     (queues over lock keys)
 *                                             └─ registry.RegistryIndex (instances)
 *                                                   │
 *                                                   ▼
 *                                      ApplyResult(result, revision, changes, events)
 *
 *   Query ──► ShardState.query ──► range / lease list / lock inspect / discover / list services
 * </pre>
 *
 * <p>Only the key-value store, the lease records, the dedup table and the metadata ({@code
 * internal.StateCore}) are state; the lease attachments, lock queues and registry instances are
 * indexes rebuilt from the keys when a snapshot loads ({@code Tables}). Time enters only through
 * {@code Command.now_ms}; nothing here reads a clock, draws a random number or does I/O beyond the
 * snapshot streams it is handed.
 */
package io.meridian.cluster.state;
