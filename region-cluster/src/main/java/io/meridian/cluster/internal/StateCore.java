package io.meridian.cluster.internal;

import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.ReplicationLag;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SourcePosition;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.ShardSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * What every command of every domain reads or writes besides its own table: the shard's replicated
 * metadata (revision, role, epoch and its history, settings, the quota alarm, replication
 * positions), the outcomes remembered for retries and the change journal. It is one mutable value
 * applied from one thread, in log order; the state's composition ({@code ShardState}) owns it and
 * hands it to each domain's commands.
 */
public final class StateCore {
  /**
   * The settings of a shard no InitShard or SetSettings gave any: what a node's config defaults to.
   */
  public static final ShardSettings DEFAULT_SETTINGS =
      ShardSettings.newBuilder().setQuotaBytes(1L << 30).setDedupCapacity(100_000).build();

  /** The smallest quota the state accepts (a node's config asks for at least 1 MiB). */
  static final long MIN_QUOTA_BYTES = 1;

  private final int shard;
  private final DedupTable dedup;
  private final ChangeJournal journal = new ChangeJournal();
  // What the quota counts besides remembered outcomes: every retained key version and lease.
  private LongSupplier tableBytes = () -> 0;

  // Cluster metadata: replicated and snapshotted, outside the revision sequence.
  private ShardSettings settings = DEFAULT_SETTINGS;
  private long revision;
  private long compactRevision;
  private Role role = Role.ROLE_UNSPECIFIED;
  private long epoch;
  private boolean initialized;
  private long leaderTerm;
  private final List<EpochStart> epochHistory = new ArrayList<>();
  private long nextLeaseSeq;
  private boolean noSpaceAlarm;
  private boolean selfPreservation;
  // Replication: how far the bridge shipped this shard (PRIMARY), where the last applied run came
  // from (STANDBY).
  private long shippedRevision;
  private SourcePosition source = SourcePosition.getDefaultInstance();
  private ReplicationLag lag = ReplicationLag.getDefaultInstance();
  // When the bridge last reported shipping (the report's command time); 0: never (single-region).
  private long lastReportMs;
  // Empty while a federated primary's shipping keeps up; else why its write authority is lost.
  private String writeAuthorityLost = "";
  // Region operations (failover, switchover, rejoin) recorded in this cluster: see
  // OperationRecords.
  private Operation openOperation;
  private List<Operation> finishedOperations = List.of();
  // The wait of a promotion whose old primary could not be fenced; null when none is on.
  private PromotionWait promotionWait;
  private Set<String> promotionLocks = Set.of();
  // The now_ms of the command being applied: a time from the log, never a clock.
  private long now;

  /**
   * @param shard 0..{@link LeaseId#MAX_SHARD}
   * @throws IllegalArgumentException for a shard out of range
   */
  public StateCore(int shard) {
    if (shard < 0 || shard > LeaseId.MAX_SHARD) {
      throw new IllegalArgumentException("shard: " + shard + " (expected: 0..32767)");
    }
    this.shard = shard;
    this.dedup = new DedupTable(settings.getDedupCapacity());
  }

  /**
   * Counts {@code bytes} (the domain tables' sizes) toward the quota, besides remembered outcomes.
   */
  public void countTowardQuota(LongSupplier bytes) {
    this.tableBytes = bytes;
  }

  public int shard() {
    return shard;
  }

  public DedupTable dedup() {
    return dedup;
  }

  public ChangeJournal journal() {
    return journal;
  }

  public ShardSettings settings() {
    return settings;
  }

  public long quotaBytes() {
    return settings.getQuotaBytes();
  }

  /**
   * Validates and takes {@code next}.
   *
   * @throws MeridianException INVALID_ARGUMENT naming the bad field, changing nothing
   */
  public void applySettings(ShardSettings next) {
    if (next.getQuotaBytes() < MIN_QUOTA_BYTES) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "settings.quota_bytes: %d (expected: >= %d)",
          next.getQuotaBytes(),
          MIN_QUOTA_BYTES);
    }
    if (next.getDedupCapacity() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "settings.dedup_capacity: %d (expected: >= 0)",
          next.getDedupCapacity());
    }
    settings = next;
    dedup.setCapacity(next.getDedupCapacity());
  }

  /** What the quota counts: keys (every retained version), leases and remembered outcomes. */
  public long stateBytes() {
    return tableBytes.getAsLong() + dedup.bytes();
  }

  /** The revision of the last client-visible change. */
  public long revision() {
    return revision;
  }

  public void setRevision(long revision) {
    this.revision = revision;
  }

  public long compactRevision() {
    return compactRevision;
  }

  public void setCompactRevision(long compactRevision) {
    this.compactRevision = compactRevision;
  }

  public Role role() {
    return role;
  }

  public void setRole(Role role) {
    this.role = role;
  }

  public long epoch() {
    return epoch;
  }

  public void setEpoch(long epoch) {
    this.epoch = epoch;
  }

  /** The revision at which each epoch began, oldest first; commands append to it. */
  public List<EpochStart> epochHistory() {
    return epochHistory;
  }

  public boolean initialized() {
    return initialized;
  }

  public void setInitialized(boolean initialized) {
    this.initialized = initialized;
  }

  /** The term of the last applied LeaderStart. */
  public long leaderTerm() {
    return leaderTerm;
  }

  public void setLeaderTerm(long leaderTerm) {
    this.leaderTerm = leaderTerm;
  }

  /** The sequence number of the last lease id handed out without being chosen. */
  public long nextLeaseSeq() {
    return nextLeaseSeq;
  }

  public void setNextLeaseSeq(long nextLeaseSeq) {
    this.nextLeaseSeq = nextLeaseSeq;
  }

  public boolean noSpaceAlarm() {
    return noSpaceAlarm;
  }

  public void setNoSpaceAlarm(boolean noSpaceAlarm) {
    this.noSpaceAlarm = noSpaceAlarm;
  }

  public boolean selfPreservation() {
    return selfPreservation;
  }

  public void setSelfPreservation(boolean selfPreservation) {
    this.selfPreservation = selfPreservation;
  }

  public long shippedRevision() {
    return shippedRevision;
  }

  public void setShippedRevision(long shippedRevision) {
    this.shippedRevision = shippedRevision;
  }

  public SourcePosition source() {
    return source;
  }

  public void setSource(SourcePosition source) {
    this.source = source;
  }

  public ReplicationLag lag() {
    return lag;
  }

  public void setLag(ReplicationLag lag) {
    this.lag = lag;
  }

  /** When the bridge last reported shipping (leader clock, ms); 0 if it never did. */
  public long lastReportMs() {
    return lastReportMs;
  }

  public void setLastReportMs(long ms) {
    this.lastReportMs = ms;
  }

  /** Empty while the shard holds its write authority; else why it lost it. */
  public String writeAuthorityLost() {
    return writeAuthorityLost;
  }

  public void setWriteAuthorityLost(String reason) {
    this.writeAuthorityLost = reason;
  }

  /** The open region operation, or null. */
  public Operation openOperation() {
    return openOperation;
  }

  public void setOpenOperation(Operation operation) {
    this.openOperation = operation;
  }

  /** The last finished region operations, newest first. */
  public List<Operation> finishedOperations() {
    return finishedOperations;
  }

  public void setFinishedOperations(List<Operation> operations) {
    this.finishedOperations = List.copyOf(operations);
  }

  /** The time of the command being applied (its {@code now_ms}). */
  public long now() {
    return now;
  }

  public void setNow(long now) {
    this.now = now;
  }

  /** The wait of the last promotion whose old primary could not be fenced, or null. */
  public PromotionWait promotionWait() {
    return promotionWait;
  }

  public void setPromotionWait(PromotionWait wait) {
    this.promotionWait = wait;
    this.promotionLocks = wait == null ? Set.of() : Set.copyOf(wait.getLocksList());
  }

  /**
   * Whether lock {@code name} may not go to a new holder now: it was held when this cluster was
   * promoted while the old primary could not be fenced, and the wait's lock time has not passed.
   */
  public boolean lockHeldBack(String name) {
    return promotionWait != null
        && now < promotionWait.getLocksUntilMs()
        && promotionLocks.contains(name);
  }

  /** The response header as of the end of {@code batch}. */
  public ResponseHeader header(Batch batch) {
    return ResponseHeader.newBuilder()
        .setShard(shard)
        .setRevision(batch.wrote() ? batch.revision : revision)
        .setEpoch(epoch)
        .setRole(role)
        .build();
  }

  public ResponseHeader header() {
    return ResponseHeader.newBuilder()
        .setShard(shard)
        .setRevision(revision)
        .setEpoch(epoch)
        .setRole(role)
        .build();
  }

  /**
   * Client writes need an initialized PRIMARY that holds its write authority (its shipping to the
   * change topic keeps up; see {@code WriteAuthority}) and is not waiting out an old primary that
   * could not be fenced (judged at the command's time).
   */
  public void requireWritable() {
    requirePrimary();
    if (!writeAuthorityLost.isEmpty()) {
      throw MeridianException.of(
          Error.Code.FENCED, "shard %d: write authority lost: %s", shard, writeAuthorityLost);
    }
    if (promotionWait != null && now < promotionWait.getWritesUntilMs()) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "shard %d: promoted at epoch %d while the old primary could not be fenced; writes resume"
              + " in %s s (replication.write-authority-ms after the promotion)",
          shard,
          promotionWait.getEpoch(),
          String.format(Locale.ROOT, "%.1f", (promotionWait.getWritesUntilMs() - now) / 1000.0));
    }
  }

  /** Linearizable reads and keep-alives need an initialized PRIMARY. */
  public void requirePrimary() {
    if (!initialized) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED,
          "shard %d: not initialized yet (expected: InitShard from the node's config)",
          shard);
    }
    if (role == Role.FENCED) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "shard %d: this region cluster is FENCED at epoch %d: it takes no writes and answers no"
              + " linearizable read or keep-alive (SERIALIZABLE and LOCAL reads are served from"
              + " its last state); use the PRIMARY region, or rejoin this one as a STANDBY with SetRole",
          shard,
          epoch);
    }
    if (role != Role.PRIMARY) {
      throw MeridianException.of(
          Error.Code.NOT_PRIMARY,
          "shard %d: this region cluster is %s (expected: the PRIMARY region)",
          shard,
          role);
    }
  }

  /**
   * Refuses a write that grows the state by {@code growth} bytes when the alarm is on or the quota
   * would be exceeded; a refusal raises the alarm (the one state change an error makes).
   */
  public void checkQuota(long growth) {
    long bytes = stateBytes();
    long quotaBytes = quotaBytes();
    if (noSpaceAlarm || bytes + growth > quotaBytes) {
      noSpaceAlarm = true;
      throw MeridianException.of(
          Error.Code.NO_SPACE,
          "shard %d: state is %d bytes, the write needs %d more, quota is %d bytes (NO_SPACE alarm"
              + " is on; run compaction or delete keys to free space)",
          shard,
          bytes,
          growth,
          quotaBytes);
    }
  }

  /** Clears the alarm once the state is at most 90 % of the quota. */
  public void maybeClearAlarm() {
    long quotaBytes = quotaBytes();
    if (noSpaceAlarm && stateBytes() <= quotaBytes - quotaBytes / 10) {
      noSpaceAlarm = false;
    }
  }
}
