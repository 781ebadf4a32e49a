package io.meridian.cluster.state;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.internal.ChangeJournal;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.MvccStore;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.proto.DedupEntry;
import io.meridian.cluster.proto.KeyHistory;
import io.meridian.cluster.proto.LeaseRecord;
import io.meridian.cluster.proto.SnapshotHeader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;

/**
 * The canonical snapshot format of a shard's state:
 *
 * <pre>
 *   SnapshotHeader                       (length-delimited, counts below)
 *   KeyHistory  x key_count              by key (KeyPath.ORDER), versions oldest first
 *   LeaseRecord x lease_count            by id
 *   DedupEntry  x dedup_count            oldest first
 *   ChangeBatch x journal_count          revisions compact_revision + 1 .. revision
 * </pre>
 *
 * Every record is written with deterministic protobuf serialization, so equal states produce equal
 * bytes (and equal {@link ShardState#stateHash()}). Derived indexes (lease attachments, lock
 * queues, registry counts, sizes) are not stored: loading rebuilds them from the keys.
 */
final class SnapshotCodec {
  // 2: the change journal and the replication positions.
  static final int FORMAT_VERSION = 2;

  /**
   * Format 1 had no change journal: its shard's journal starts at the snapshot's revision, with the
   * chain starting again from {@link ChangeJournal#GENESIS} (a standby of it is seeded from a later
   * snapshot, which carries the same chain).
   */
  static final int FORMAT_VERSION_NO_JOURNAL = 1;

  private SnapshotCodec() {}

  /**
   * Everything a snapshot holds, frozen: later applies do not change it, and it may be written from
   * any thread. Taking it costs O(1) beyond the header (the tables are persistent collections).
   */
  record Frozen(
      SnapshotHeader header,
      MvccStore.View kv,
      Collection<LeaseRecord> leases,
      Collection<DedupEntry> dedup,
      Collection<ChangeBatch> journal) {}

  static Frozen freeze(Tables tables) {
    StateCore core = tables.core();
    MvccStore.View kv = tables.keys().store().view();
    Collection<LeaseRecord> leases = tables.leases().records().values();
    Collection<DedupEntry> dedup = core.dedup().entries();
    Collection<ChangeBatch> journal = core.journal().all();
    SnapshotHeader.Builder b =
        SnapshotHeader.newBuilder()
            .setFormatVersion(FORMAT_VERSION)
            .setShard(core.shard())
            .setRevision(core.revision())
            .setCompactRevision(core.compactRevision())
            .setRole(core.role())
            .setEpoch(core.epoch())
            .addAllEpochHistory(core.epochHistory())
            .setLeaderTerm(core.leaderTerm())
            .setNextLeaseSeq(core.nextLeaseSeq())
            .setNoSpaceAlarm(core.noSpaceAlarm())
            .setInitialized(core.initialized())
            .setSelfPreservation(core.selfPreservation())
            .setKeyCount(kv.historyCount())
            .setLeaseCount(leases.size())
            .setDedupCount(dedup.size())
            .setChainHash(core.journal().chainHash())
            .setCommitTimeMs(core.journal().commitTimeMs())
            .setJournalCount(journal.size())
            .setShippedRevision(core.shippedRevision())
            .setSource(core.source())
            .setLag(core.lag())
            .setSettings(core.settings())
            .setWriteAuthorityLost(core.writeAuthorityLost())
            .setLastReportMs(core.lastReportMs())
            .addAllFinishedOperations(core.finishedOperations());
    if (core.openOperation() != null) {
      b.setOpenOperation(core.openOperation());
    }
    if (core.promotionWait() != null) {
      b.setPromotionWait(core.promotionWait());
    }
    return new Frozen(b.build(), kv, leases, dedup, journal);
  }

  static void write(Frozen frozen, OutputStream out) throws IOException {
    CodedOutputStream cos = CodedOutputStream.newInstance(out);
    cos.useDeterministicSerialization();
    writeDelimited(cos, frozen.header());
    IOException[] failure = new IOException[1];
    frozen
        .kv()
        .forEach(
            (key, versions) -> {
              if (failure[0] == null) {
                try {
                  writeDelimited(
                      cos, KeyHistory.newBuilder().setKey(key).addAllVersions(versions).build());
                } catch (IOException e) {
                  failure[0] = e;
                }
              }
            });
    if (failure[0] != null) {
      throw failure[0];
    }
    for (LeaseRecord lease : frozen.leases()) {
      writeDelimited(cos, lease);
    }
    for (DedupEntry entry : frozen.dedup()) {
      writeDelimited(cos, entry);
    }
    for (ChangeBatch batch : frozen.journal()) {
      writeDelimited(cos, batch);
    }
    cos.flush();
  }

  /** What a shard holds at its revision, independent of how it got there. */
  record Content(byte[] hash, long keys, long leases) {}

  /**
   * SHA-256 over every live key's current version (key order, the {@code KeyValue} as watchers see
   * it) and then every lease's id, namespace and TTL (id order), length-delimited in deterministic
   * encoding. Unlike the snapshot's bytes it leaves out what differs between replicas and regions
   * with equal data: retained old versions, remembered request ids, the journal, leader terms,
   * checkpointed remainders, replication positions. A primary and a standby at equal revisions, and
   * a shard restored to a revision, have equal content hashes.
   */
  static Content content(Frozen frozen) {
    MessageDigest sha = sha256();
    long[] keys = new long[1];
    try {
      CodedOutputStream cos =
          CodedOutputStream.newInstance(
              new DigestOutputStream(OutputStream.nullOutputStream(), sha));
      cos.useDeterministicSerialization();
      IOException[] failure = new IOException[1];
      frozen
          .kv()
          .forEach(
              (key, versions) -> {
                KeyValue current = versions.get(versions.size() - 1);
                if (failure[0] != null || MvccStore.isTombstone(current)) {
                  return;
                }
                keys[0]++;
                try {
                  writeDelimited(cos, current);
                } catch (IOException e) {
                  failure[0] = e;
                }
              });
      if (failure[0] != null) {
        throw failure[0];
      }
      // Between keys and leases, so a state's split between the two cannot collide.
      cos.writeUInt32NoTag(0);
      for (LeaseRecord lease : frozen.leases()) {
        writeDelimited(
            cos,
            LeaseRecord.newBuilder()
                .setId(lease.getId())
                .setNamespace(lease.getNamespace())
                .setTtlMs(lease.getTtlMs())
                .build());
      }
      cos.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("hashing into memory cannot fail", e);
    }
    return new Content(sha.digest(), keys[0], frozen.leases().size());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  private static void writeDelimited(CodedOutputStream cos, MessageLite message)
      throws IOException {
    cos.writeUInt32NoTag(message.getSerializedSize());
    message.writeTo(cos);
  }

  static Tables read(InputStream in) throws IOException {
    try {
      return readUnchecked(in);
    } catch (RuntimeException e) {
      // Inconsistent records (a duplicate lease, a corrupt lock value, a bad shard number).
      throw new IOException("snapshot: corrupt (" + e.getMessage() + ")", e);
    }
  }

  private static Tables readUnchecked(InputStream in) throws IOException {
    SnapshotHeader header = SnapshotHeader.parseDelimitedFrom(in);
    if (header == null
        || (header.getFormatVersion() != FORMAT_VERSION
            && header.getFormatVersion() != FORMAT_VERSION_NO_JOURNAL)) {
      throw new IOException(
          "snapshot: format "
              + (header == null ? "missing" : header.getFormatVersion())
              + " (expected: "
              + FORMAT_VERSION
              + ")");
    }
    StateCore core = new StateCore(header.getShard());
    if (header.hasSettings()) {
      core.applySettings(header.getSettings());
    }
    core.setRevision(header.getRevision());
    core.setCompactRevision(header.getCompactRevision());
    core.setRole(header.getRole());
    core.setEpoch(header.getEpoch());
    core.epochHistory().addAll(header.getEpochHistoryList());
    core.setLeaderTerm(header.getLeaderTerm());
    core.setNextLeaseSeq(header.getNextLeaseSeq());
    core.setNoSpaceAlarm(header.getNoSpaceAlarm());
    core.setInitialized(header.getInitialized());
    core.setSelfPreservation(header.getSelfPreservation());
    core.setWriteAuthorityLost(header.getWriteAuthorityLost());
    core.setLastReportMs(header.getLastReportMs());
    core.setOpenOperation(header.hasOpenOperation() ? header.getOpenOperation() : null);
    core.setFinishedOperations(header.getFinishedOperationsList());
    if (header.hasPromotionWait()) {
      core.setPromotionWait(header.getPromotionWait());
    }
    MvccStore store = new MvccStore();
    LeaseTable leases = new LeaseTable();
    KeyHistory[] histories = new KeyHistory[Math.toIntExact(header.getKeyCount())];
    for (int i = 0; i < histories.length; i++) {
      histories[i] = required(KeyHistory.parseDelimitedFrom(in), "key history");
      store.load(histories[i].getKey(), histories[i].getVersionsList());
    }
    for (long i = 0; i < header.getLeaseCount(); i++) {
      leases.add(required(LeaseRecord.parseDelimitedFrom(in), "lease"));
    }
    for (long i = 0; i < header.getDedupCount(); i++) {
      core.dedup().load(required(DedupEntry.parseDelimitedFrom(in), "dedup entry"));
    }
    core.setShippedRevision(header.getShippedRevision());
    core.setSource(header.getSource());
    core.setLag(header.getLag());
    core.journal()
        .load(
            header.getRevision() - header.getJournalCount(),
            header.getFormatVersion() == FORMAT_VERSION_NO_JOURNAL
                ? ChangeJournal.GENESIS
                : header.getChainHash(),
            header.getCommitTimeMs());
    for (long i = 0; i < header.getJournalCount(); i++) {
      core.journal().loadBatch(required(ChangeBatch.parseDelimitedFrom(in), "change batch"));
    }
    // Derived indexes: lease attachments, lock queues and registry counts follow the current
    // versions.
    Tables tables = Tables.of(core, store, leases);
    for (KeyHistory history : histories) {
      KeyValue kv = store.current(history.getKey());
      if (kv == null) {
        continue;
      }
      if (kv.getLease() != 0 && !leases.contains(kv.getLease())) {
        throw new IOException("snapshot: key " + kv.getKey() + " names missing lease");
      }
      tables.keys().reindex(kv);
    }
    return tables;
  }

  private static <T> T required(T record, String what) throws IOException {
    if (record == null) {
      throw new IOException("snapshot: truncated before a " + what);
    }
    return record;
  }
}
