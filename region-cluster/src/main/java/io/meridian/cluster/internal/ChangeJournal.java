package io.meridian.cluster.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.meridian.api.KeyPath;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeOp;
import io.meridian.api.v1.LeaseGrantOp;
import io.meridian.cluster.proto.LeaseRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import org.pcollections.TreePMap;

/**
 * The change batch of every retained revision of a shard, oldest first, and the chain hash at the
 * shard's revision: what the change feed streams and what a standby checks before it applies.
 *
 * <p>Revisions are dense (every revision has exactly one batch), so a batch is found by its offset
 * from the first retained revision. Compaction trims the journal with the key history: a feed can
 * start after any revision the key history still has. Key versions in the batches are the same
 * immutable objects the key-value store holds, so retaining them costs little beyond the batch.
 */
public final class ChangeJournal {
  /** The chain hash before revision 1. */
  public static final ByteString GENESIS = ByteString.copyFrom(new byte[32]);

  private static final Comparator<Change> CANONICAL =
      Comparator.comparingInt(ChangeJournal::rank)
          .thenComparing(
              c -> c instanceof Change.KvPut || c instanceof Change.KvDelete ? keyOf(c) : "",
              KeyPath.ORDER);

  // By revision; persistent, so a snapshot writer gets them frozen in O(1) (all()).
  private TreePMap<Long, ChangeBatch> batches = TreePMap.empty();
  private long first = 1;
  private ByteString chainHash = GENESIS;
  private long commitTimeMs;

  /** The chain hash at the shard's revision ({@link #GENESIS} for an empty shard). */
  public ByteString chainHash() {
    return chainHash;
  }

  /** The commit time of the shard's revision (0 for an empty shard). */
  public long commitTimeMs() {
    return commitTimeMs;
  }

  /** Number of retained batches. */
  public int size() {
    return batches.size();
  }

  /** The first retained revision (the one after the compaction revision). */
  public long first() {
    return first;
  }

  /**
   * Appends the batch of the next revision.
   *
   * @throws IllegalStateException if {@code batch} is not the revision after the last one
   */
  public void append(ChangeBatch batch) {
    long expected = first + batches.size();
    if (batch.getRevision() != expected) {
      throw new IllegalStateException(
          "journal: revision " + batch.getRevision() + " (expected: " + expected + ")");
    }
    batches = batches.plus(batch.getRevision(), batch);
    chainHash = batch.getChainHash();
    commitTimeMs = batch.getCommitTimeMs();
  }

  /** Drops every batch at or below {@code revision}. */
  public void trimThrough(long revision) {
    batches = batches.tailMap(revision, false);
    first = Math.max(first, revision + 1);
  }

  /** Up to {@code max} batches from revision {@code from} on (fewer at the journal's end). */
  public List<ChangeBatch> from(long from, int max) {
    if (from < first) {
      throw new IllegalArgumentException("from: " + from + " (expected: >= " + first + ")");
    }
    List<ChangeBatch> out = new ArrayList<>(Math.min(max, 64));
    for (ChangeBatch batch : batches.tailMap(from, true).values()) {
      if (out.size() == max) {
        break;
      }
      out.add(batch);
    }
    return out;
  }

  /**
   * Every retained batch, oldest first, as of now: unchanged by later appends, safe to read from
   * any thread (snapshots). O(1).
   */
  public Collection<ChangeBatch> all() {
    return batches.values();
  }

  /** Restores the journal from a snapshot: the batches after {@code compactRevision}. */
  public void load(long compactRevision, ByteString chainHash, long commitTimeMs) {
    this.first = compactRevision + 1;
    this.chainHash = chainHash;
    this.commitTimeMs = commitTimeMs;
  }

  /** Restores one batch of a snapshot, in revision order, after {@link #load}. */
  public void loadBatch(ChangeBatch batch) {
    ByteString head = chainHash;
    long time = commitTimeMs;
    append(batch);
    // The header's chain hash is the head's; loading older batches must not move it.
    chainHash = head;
    commitTimeMs = time;
  }

  /**
   * Seals the changes one command made at {@code revision} into its batch, chained to the current
   * head.
   */
  public ChangeBatch seal(
      int shard, long epoch, long revision, long commitTimeMs, List<Change> changes) {
    List<ChangeOp> ops = ops(changes);
    return ChangeBatch.newBuilder()
        .setShard(shard)
        .setEpoch(epoch)
        .setRevision(revision)
        .setCommitTimeMs(commitTimeMs)
        .addAllOps(ops)
        .setChainHash(chain(chainHash, revision, ops))
        .build();
  }

  /** The replicated form of one revision's changes, in canonical order. */
  public static List<ChangeOp> ops(List<Change> changes) {
    List<Change> sorted = new ArrayList<>(changes);
    sorted.sort(CANONICAL);
    List<ChangeOp> ops = new ArrayList<>(sorted.size());
    for (Change c : sorted) {
      ChangeOp.Builder op = ChangeOp.newBuilder();
      if (c instanceof Change.KvPut p) {
        op.setPut(p.kv());
      } else if (c instanceof Change.KvDelete d) {
        op.setDelete(d.key());
      } else if (c instanceof Change.LeaseGranted g) {
        op.setLeaseGrant(grantOp(g.lease()));
      } else {
        op.setLeaseEnd(((Change.LeaseRevoked) c).id());
      }
      ops.add(op.build());
    }
    return ops;
  }

  private static LeaseGrantOp grantOp(LeaseRecord lease) {
    return LeaseGrantOp.newBuilder()
        .setId(lease.getId())
        .setNamespace(lease.getNamespace())
        .setTtlMs(lease.getTtlMs())
        .build();
  }

  /**
   * SHA-256 over {@code previous}, {@code revision} (8 bytes, big-endian) and each op
   * length-delimited in deterministic encoding.
   */
  public static ByteString chain(ByteString previous, long revision, List<ChangeOp> ops) {
    MessageDigest sha = sha256();
    sha.update(previous.asReadOnlyByteBuffer());
    sha.update(ByteBuffer.allocate(Long.BYTES).putLong(0, revision));
    byte[] buffer = new byte[256];
    for (ChangeOp op : ops) {
      int size = op.getSerializedSize();
      int total = CodedOutputStream.computeUInt32SizeNoTag(size) + size;
      if (buffer.length < total) {
        buffer = new byte[Math.max(total, buffer.length * 2)];
      }
      CodedOutputStream out = CodedOutputStream.newInstance(buffer, 0, total);
      out.useDeterministicSerialization();
      try {
        out.writeUInt32NoTag(size);
        op.writeTo(out);
      } catch (IOException e) {
        throw new UncheckedIOException(e); // Sized above: cannot overflow.
      }
      sha.update(buffer, 0, total);
    }
    return ByteString.copyFrom(sha.digest());
  }

  // One digest per thread (the apply thread, a bridge's): looking one up per revision went
  // through the JCA provider list every time.
  private static final ThreadLocal<MessageDigest> SHA256 =
      ThreadLocal.withInitial(
          () -> {
            try {
              return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
              throw new IllegalStateException("SHA-256 is required of every JVM", e);
            }
          });

  private static MessageDigest sha256() {
    MessageDigest sha = SHA256.get();
    sha.reset();
    return sha;
  }

  private static int rank(Change c) {
    if (c instanceof Change.LeaseGranted) {
      return 0;
    }
    return c instanceof Change.LeaseRevoked ? 2 : 1;
  }

  private static String keyOf(Change c) {
    return c instanceof Change.KvPut p ? p.kv().getKey() : ((Change.KvDelete) c).key();
  }
}
