package io.meridian.cluster.state;

import com.google.protobuf.ByteString;
import io.meridian.api.FencingToken;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeasePolicy;
import io.meridian.api.v1.LeaseStatus;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeyRange;
import io.meridian.cluster.kv.KeySpace;
import io.meridian.cluster.kv.KvCommands;
import io.meridian.cluster.kv.MvccStore;
import io.meridian.cluster.kv.TxnCommand;
import io.meridian.cluster.lease.LeaseCommands;
import io.meridian.cluster.lease.LeaseTable;
import io.meridian.cluster.lease.LeaseView;
import io.meridian.cluster.lock.LockCommands;
import io.meridian.cluster.lock.LockTable;
import io.meridian.cluster.lock.LockWaiterState;
import io.meridian.cluster.proto.Ack;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandBatch;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.SetRole;
import io.meridian.cluster.proto.SetWriteAuthority;
import io.meridian.cluster.proto.ShardSettings;
import io.meridian.cluster.proto.SnapshotHeader;
import io.meridian.cluster.registry.RegistryCommands;
import io.meridian.cluster.registry.RegistryReads;
import io.meridian.cluster.replication.FeedState;
import io.meridian.cluster.replication.OperationRecords;
import io.meridian.cluster.replication.Promotion;
import io.meridian.cluster.replication.ReplicationCommands;
import io.meridian.cluster.replication.WriteAuthority;
import io.meridian.cluster.watch.WatchedState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The deterministic state machine of one shard replica: MVCC key-value store, leases, locks, the
 * service registry and cluster metadata (role, epoch, epoch history, self-preservation, write
 * authority, a promotion's wait).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li><b>Pure.</b> {@link #apply} depends only on the state, the command and the Raft term of its
 *       log entry; {@code command.now_ms} is the only time. Replicas applying the same log reach
 *       equal states, which {@link #stateHash()} makes checkable.
 *   <li><b>All or nothing.</b> An invalid command yields {@code CommandResult.error} and changes
 *       nothing (a NO_SPACE refusal only raises the quota alarm); apply never throws for bad input.
 *   <li><b>Revisions.</b> Each command that changes client-visible state bumps the revision by
 *       exactly one, and all its changes carry that revision. Metadata commands, compaction,
 *       checkpoints, reads, errors and duplicates do not bump it.
 *   <li><b>Once.</b> A command whose {@code request_id} had a non-error result recently (up to the
 *       dedup capacity of its {@link #settings()}, 10 minutes) returns that result again and
 *       changes nothing.
 *   <li><b>Fencing.</b> Lock grant tokens are {@code epoch << 48 | grant revision}: they strictly
 *       increase across holders and, since every promotion bumps the epoch, across failovers.
 * </ul>
 *
 * <p>Not thread-safe: the Ratis adapter applies from one thread and guards reads.
 *
 * <p>It is longer than our other classes on purpose: it is the one face of the pure state for the
 * adapter, the node and every reader (entry points, metadata commands and documented read
 * accessors). The rules of each domain live in its command class ({@code kv}, {@code lease}, {@code
 * lock}, {@code registry}, {@code replication}).
 */
public final class ShardState implements WatchedState, FeedState {
  // Replaced all together by a reset from a snapshot (see wire), on the apply thread.
  private Tables tables;
  private StateCore core;
  private KvCommands kv;
  private TxnCommand txn;
  private LeaseCommands leases;
  private LockCommands locks;
  private RegistryCommands registry;
  private RegistryReads registryReads;
  private ReplicationCommands replication;
  private OperationRecords operations;
  private Promotion promotion;

  /**
   * An empty, uninitialized shard state: it takes writes once an {@code InitShard} command made it
   * PRIMARY. Its limits (quota, dedup capacity) are the defaults until a command sets them: they
   * are replicated like everything else, so every member applies alike.
   *
   * @param shard this replica's shard, 0..{@link io.meridian.api.LeaseId#MAX_SHARD}
   * @throws IllegalArgumentException for a shard out of range
   */
  public ShardState(int shard) {
    this(Tables.empty(shard));
  }

  private ShardState(Tables tables) {
    wire(tables);
  }

  /** Makes {@code tables} this state, with every domain's commands over them. */
  private void wire(Tables tables) {
    this.tables = tables;
    this.core = tables.core();
    KeySpace keys = tables.keys();
    this.kv = new KvCommands(core, keys, tables.leases());
    this.txn = new TxnCommand(core, keys, kv, tables.leases(), tables.locks());
    this.locks = new LockCommands(core, keys, tables.locks(), tables.leases());
    this.leases = new LeaseCommands(core, keys, tables.leases(), locks);
    this.registry = new RegistryCommands(core, keys, tables.leases(), leases, locks);
    this.registryReads = new RegistryReads(core, keys);
    this.replication = new ReplicationCommands(core, keys, tables.leases(), leases);
    this.operations = new OperationRecords(core);
    this.promotion = new Promotion(core, tables.leases(), tables.locks(), leases, locks);
  }

  /**
   * Applies one committed command; {@code term} is the Raft term of its log entry. Never throws for
   * bad input: an invalid command yields {@code CommandResult.error} and changes nothing.
   */
  public ApplyResult apply(Command command, long term) {
    String requestId = command.getRequestId();
    long now = command.getNowMs();
    core.setNow(now);
    if (!requestId.isEmpty()) {
      CommandResult first = core.dedup().find(requestId, now);
      if (first != null) {
        return new ApplyResult(
            first, core.revision(), core.role(), true, List.of(), List.of(), List.of());
      }
    }
    Batch batch = new Batch(core.revision() + 1);
    List<ApplyResult.Committed> committed = new ArrayList<>(1);
    CommandResult result;
    try {
      result = dispatch(command, term, batch, committed);
    } catch (MeridianException e) {
      // Commands validate before writing, so the batch is empty here.
      return new ApplyResult(
          CommandResult.newBuilder().setError(e.toError()).build(),
          core.revision(),
          core.role(),
          false,
          List.of(),
          List.of(),
          List.of());
    }
    if (batch.wrote()) {
      ChangeBatch sealed =
          core.journal().seal(core.shard(), core.epoch(), batch.revision, now, batch.changes);
      core.journal().append(sealed);
      core.setRevision(batch.revision);
      committed.add(new ApplyResult.Committed(sealed, batch.changes));
    }
    core.maybeClearAlarm();
    core.dedup().remember(requestId, now, result);
    return new ApplyResult(
        result,
        core.revision(),
        core.role(),
        false,
        committed,
        batch.lockEvents,
        batch.leaseEvents);
  }

  /**
   * Applies the commands of one batch entry in order, each exactly as {@link #apply} would apply it
   * alone: its own revision, dedup entry, result and events. A nested batch is refused with
   * INVALID_ARGUMENT and changes nothing.
   */
  public List<ApplyResult> applyBatch(CommandBatch batch, long term) {
    List<ApplyResult> results = new ArrayList<>(batch.getCommandsCount());
    for (Command c : batch.getCommandsList()) {
      results.add(apply(c, term));
    }
    return results;
  }

  private CommandResult dispatch(
      Command c, long term, Batch batch, List<ApplyResult.Committed> committed) {
    return switch (c.getOpCase()) {
      case PUT -> kv.put(c.getPut(), batch);
      case DELETE_RANGE -> kv.deleteRange(c.getDeleteRange(), batch);
      case TXN -> txn.apply(c.getTxn(), batch);
      case COMPACT -> kv.compact(c.getCompact(), batch);
      case LEASE_GRANT -> leases.grant(c.getLeaseGrant(), batch);
      case LEASE_REVOKE -> leases.revoke(c.getLeaseRevoke(), batch);
      case LEASE_EXPIRE -> leases.expire(c.getLeaseExpire(), term, batch, this::preservable);
      case LEASE_CHECKPOINT -> leases.checkpoint(c.getLeaseCheckpoint(), term);
      case LOCK_ACQUIRE -> locks.acquire(c.getLockAcquire(), batch);
      case LOCK_RELEASE -> locks.release(c.getLockRelease(), batch);
      case LOCK_CANCEL -> locks.cancel(c.getLockCancel(), batch);
      case INIT_SHARD -> initShard(c.getInitShard());
      case LEADER_START -> {
        core.setLeaderTerm(term);
        yield ack();
      }
      case SET_ROLE -> setRole(c.getSetRole(), batch);
      case SET_SETTINGS -> {
        core.applySettings(c.getSetSettings().getSettings());
        yield ack();
      }
      case READ_BARRIER -> ack();
      case REGISTRY_REGISTER -> registry.register(c.getRegistryRegister(), batch);
      case REGISTRY_SET_HEALTH -> registry.setHealth(c.getRegistrySetHealth(), batch);
      case REGISTRY_DEREGISTER -> registry.deregister(c.getRegistryDeregister(), batch);
      case SET_SELF_PRESERVATION -> registry.setSelfPreservation(c.getSetSelfPreservation());
      case APPLY_REPLICATED -> {
        requireNoStagedReset();
        yield replication.apply(c.getApplyReplicated(), batch, committed);
      }
      case REPORT_SHIPPED -> replication.reportShipped(c.getReportShipped());
      case SET_WRITE_AUTHORITY -> setWriteAuthority(c.getSetWriteAuthority());
      case RECORD_OPERATION -> operations.apply(c.getRecordOperation(), c.getNowMs());
      case END_PROMOTION_WAIT -> {
        promotion.endWait(batch);
        yield ack();
      }
      case RESET_BEGIN -> SnapshotReset.begin(core, c.getResetBegin());
      case RESET_PART -> SnapshotReset.part(core, c.getResetPart());
      case RESET_END -> resetEnd(c.getResetEnd());
      case BATCH ->
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT, "command: a batch holds single commands only");
      case OP_NOT_SET ->
          throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "command: no operation set");
    };
  }

  /**
   * Ends the staged reset: drops it when asked to abandon it, else replaces this whole state with
   * the staged snapshot's (see {@link SnapshotReset}). The revision moves to the snapshot's without
   * a change batch of its own: readers of the applied state see the swap as a history break.
   */
  private CommandResult resetEnd(io.meridian.cluster.proto.ResetEnd end) {
    if (end.getAbandon()) {
      return SnapshotReset.abandon(core, end);
    }
    SnapshotManifest manifest = core.stagedReset() == null ? null : core.stagedReset().manifest();
    Tables next = SnapshotReset.end(core, end);
    wire(next);
    return SnapshotReset.ended(core, manifest, end);
  }

  private void requireNoStagedReset() {
    if (core.stagedReset() != null) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "shard %d: a reset from a snapshot (reset %s) is under way (expected: none; replicated"
              + " batches resume once it ended or was dropped)",
          core.shard(),
          core.stagedReset().resetId());
    }
  }

  /** The id of the reset from a snapshot being staged, if one is. */
  public Optional<String> stagedReset() {
    return Optional.ofNullable(core.stagedReset()).map(r -> r.resetId());
  }

  private static CommandResult ack() {
    return CommandResult.newBuilder().setAck(Ack.getDefaultInstance()).build();
  }

  private static void checkRoleAndEpoch(Role role, long epoch) {
    if (role != Role.PRIMARY && role != Role.STANDBY && role != Role.FENCED) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "role: %s (expected: PRIMARY, STANDBY or FENCED)", role);
    }
    if (epoch < 0 || epoch > FencingToken.MAX_EPOCH) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "epoch: %d (expected: 0..%d)",
          epoch,
          FencingToken.MAX_EPOCH);
    }
  }

  private CommandResult initShard(InitShard init) {
    if (core.initialized()) {
      return ack();
    }
    if (init.getShard() != core.shard()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "shard: %d (expected: %d, this replica's shard)",
          init.getShard(),
          core.shard());
    }
    checkRoleAndEpoch(init.getRole(), init.getEpoch());
    if (init.hasSettings()) {
      core.applySettings(init.getSettings());
    }
    core.setRole(init.getRole());
    core.setEpoch(init.getEpoch());
    core.epochHistory().clear();
    core.epochHistory().add(epochStart(init.getEpoch()));
    core.setInitialized(true);
    return ack();
  }

  private CommandResult setRole(SetRole set, Batch batch) {
    if (!core.initialized()) {
      throw MeridianException.of(
          Error.Code.NOT_INITIALIZED, "shard %d: not initialized yet", core.shard());
    }
    checkRoleAndEpoch(set.getRole(), set.getEpoch());
    checkPromotionOptions(set);
    if (set.getEpoch() < core.epoch()) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "epoch: %d (expected: >= the current epoch %d; a newer epoch fenced this request)",
          set.getEpoch(),
          core.epoch());
    }
    if (set.getRole() == Role.PRIMARY
        && core.role() != Role.PRIMARY
        && set.getEpoch() == core.epoch()) {
      // Tokens carry the epoch: a primary of an old epoch may have granted tokens up to any
      // revision, and a lossy failover reuses revisions, so only a new epoch keeps them rising.
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "epoch: %d (expected: > %d: a promotion to PRIMARY starts a new epoch)",
          set.getEpoch(),
          core.epoch());
    }
    // The same promotion sent again must not revoke or hold anything anew.
    boolean promotes =
        set.getRole() == Role.PRIMARY
            && (core.role() != Role.PRIMARY || set.getEpoch() > core.epoch());
    if (set.getEpoch() > core.epoch()) {
      core.setEpoch(set.getEpoch());
      core.epochHistory().add(epochStart(set.getEpoch()));
    }
    core.setRole(set.getRole());
    // A role change is the operator's fresh start: the new role's leader judges shipping anew,
    // and a federated shard's bridge gets the limit from now to report to it.
    core.setWriteAuthorityLost("");
    if (core.lastReportMs() > 0) {
      core.setLastReportMs(core.now());
    }
    if (promotes) {
      promotion.promote(set, batch);
    } else if (set.getRole() != Role.PRIMARY) {
      core.setPromotionWait(null);
    }
    return ack();
  }

  private static void checkPromotionOptions(SetRole set) {
    if (set.getLeasePolicy() == LeasePolicy.UNRECOGNIZED) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lease_policy: %d (expected: EXTEND or REVOKE)",
          set.getLeasePolicyValue());
    }
    if (set.getRole() != Role.PRIMARY && set.getLeasePolicy() == LeasePolicy.REVOKE) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "lease_policy: REVOKE with role %s (expected: role PRIMARY; only a promotion revokes"
              + " leases)",
          set.getRole());
    }
    if (set.getRole() != Role.PRIMARY && set.getOldPrimaryUnfenced()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "old_primary_unfenced: true with role %s (expected: role PRIMARY; only a promotion"
              + " waits out the old primary)",
          set.getRole());
    }
    if (set.getHoldWritesMs() < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "hold_writes_ms: %d (expected: >= 0)",
          set.getHoldWritesMs());
    }
  }

  private CommandResult setWriteAuthority(SetWriteAuthority set) {
    core.requirePrimary();
    // The reason is the refusal's message, so a loss always has one.
    core.setWriteAuthorityLost(
        set.getHeld() ? "" : set.getReason().isEmpty() ? "shipping stalled" : set.getReason());
    return ack();
  }

  private EpochStart epochStart(long epoch) {
    return EpochStart.newBuilder().setEpoch(epoch).setStartRevision(core.revision() + 1).build();
  }

  /**
   * Answers a read of the applied state at the revision it has: ranges, lease lists, lock
   * inspections, discovery and service lists. What only the shard's leader answers (keep-alives,
   * TTLs, heartbeats, read indexes, batches of those) is refused with INVALID_ARGUMENT. Never
   * throws for bad input: an invalid read yields {@code QueryResult.error}.
   */
  public QueryResult query(Query query) {
    try {
      QueryResult.Builder b = QueryResult.newBuilder();
      return switch (query.getQCase()) {
        case RANGE -> b.setRange(range(query.getRange())).build();
        case LEASE_LIST -> b.setLeaseList(leaseList(query.getLeaseList().getNamespace())).build();
        case LOCK_INSPECT ->
            b.setLockInspect(inspectLock(query.getLockInspect().getName())).build();
        case REGISTRY_DISCOVER ->
            b.setRegistryDiscover(discover(query.getRegistryDiscover())).build();
        case REGISTRY_LIST ->
            b.setRegistryList(listServices(query.getRegistryList().getNamespace())).build();
        case LEASE_RENEW, LEASE_TTL, REGISTRY_HEARTBEAT, BATCH, READ_INDEX ->
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "%s: answered by the shard's leader only",
                query.getQCase());
        case Q_NOT_SET -> throw MeridianException.of(Error.Code.INVALID_ARGUMENT, "empty query");
      };
    } catch (MeridianException e) {
      return QueryResult.newBuilder().setError(e.toError()).build();
    }
  }

  private LeaseListResponse leaseList(String namespace) {
    LeaseListResponse.Builder b = LeaseListResponse.newBuilder().setHeader(header());
    for (LeaseView l : leases(namespace)) {
      b.addLeases(
          LeaseStatus.newBuilder()
              .setId(l.id())
              .setNamespace(l.namespace())
              .setGrantedTtl(l.ttlMs() / 1000));
    }
    return b.build();
  }

  /** The header of an answer from this state: shard, revision, epoch and role. */
  public ResponseHeader header() {
    return core.header();
  }

  /** This replica's shard. */
  public int shard() {
    return core.shard();
  }

  /** The revision of the last client-visible change (0 for an empty shard). */
  @Override
  public long revision() {
    return core.revision();
  }

  /** Reads below this revision fail with COMPACTED. */
  public long compactRevision() {
    return core.compactRevision();
  }

  /** PRIMARY, STANDBY or FENCED; ROLE_UNSPECIFIED until initialized. */
  @Override
  public Role role() {
    return core.role();
  }

  /**
   * Gives a state rebuilt outside any Raft group the role of the snapshot it was rebuilt from. A
   * point-in-time restore replays shipped batches the way a STANDBY applies them (which needs the
   * STANDBY role) and then hands back the snapshot's role; the epoch is left as the replay moved
   * it. Not a command, and so not for a replica's live state: it skips the epoch rule of {@code
   * SetRole} (a promotion starts a new epoch), which guards a running cluster's promotions; the
   * restored state takes the role it had at that revision.
   *
   * @throws IllegalStateException if this state was never initialized
   * @throws IllegalArgumentException for a role other than PRIMARY, STANDBY or FENCED
   */
  public void restoreRole(Role role) {
    if (!core.initialized()) {
      throw new IllegalStateException("shard " + core.shard() + ": not initialized");
    }
    if (role != Role.PRIMARY && role != Role.STANDBY && role != Role.FENCED) {
      throw new IllegalArgumentException(
          "role: " + role + " (expected: PRIMARY, STANDBY or FENCED)");
    }
    core.setRole(role);
  }

  /** The current epoch: it only grows, and every lock token carries it. */
  @Override
  public long epoch() {
    return core.epoch();
  }

  /**
   * Checks that this region cluster is an initialized PRIMARY: only a primary answers linearizable
   * reads, keeps leases alive and takes client writes. A primary whose write authority is lost
   * passes (it refuses writes, not reads or keep-alives).
   *
   * @return {@link Role#PRIMARY}
   * @throws MeridianException NOT_INITIALIZED, FENCED or NOT_PRIMARY
   */
  public Role requirePrimary() {
    core.requirePrimary();
    return core.role();
  }

  /**
   * Checks that this region cluster may answer a linearizable read: an initialized PRIMARY that
   * holds its write authority. One that lost it cannot know that no other region was promoted
   * meanwhile (that is why it lost it), so "the latest state" is not its to promise; SERIALIZABLE
   * and LOCAL reads, which promise no such thing, go on.
   *
   * @throws MeridianException NOT_INITIALIZED, NOT_PRIMARY or FENCED
   */
  public void requireLinearizable() {
    core.requirePrimary();
    if (!core.writeAuthorityLost().isEmpty()) {
      throw MeridianException.of(
          Error.Code.FENCED,
          "shard %d: write authority lost, so no linearizable read either (another region may have"
              + " been promoted): %s; SERIALIZABLE and LOCAL reads are served",
          core.shard(),
          core.writeAuthorityLost());
    }
  }

  /**
   * Empty while this shard holds its write authority (always, for a shard no bridge ever reported
   * shipping for); else why it lost it: client writes are refused with FENCED and lease expiry is
   * held until the leader commits that shipping caught up.
   */
  public String writeAuthorityLost() {
    return core.writeAuthorityLost();
  }

  /** When the newest finished region operation recorded here finished (leader ms); 0 if none. */
  public long lastFinishedOperationMs() {
    return core.finishedOperations().isEmpty()
        ? 0
        : core.finishedOperations().get(0).getFinishedMs();
  }

  /** The open region operation (failover, switchover, rejoin) recorded here, if any. */
  public java.util.Optional<io.meridian.api.v1.Operation> openOperation() {
    return java.util.Optional.ofNullable(core.openOperation());
  }

  /**
   * The wait of the last promotion made while the old primary could not be fenced, while it is on:
   * writes are refused before {@code writes_until_ms} and the locks it names go to no new holder
   * before {@code locks_until_ms} (both judged at each command's {@code now_ms}); the leader ends
   * it with {@code EndPromotionWait} once its clock passed {@code locks_until_ms}.
   */
  public Optional<PromotionWait> promotionWait() {
    return Optional.ofNullable(core.promotionWait());
  }

  /**
   * The oldest revision the bridge has not reported shipped and its commit time (the proposing
   * leader's clock), or empty when none is owed: no bridge ever reported shipping for this shard
   * (shipped revision 0), or it shipped every revision. A revision compacted away unshipped (an
   * explicit compaction) is judged by the first retained one.
   */
  public Optional<WriteAuthority.Unshipped> oldestUnshipped() {
    long shipped = core.shippedRevision();
    if (shipped == 0 || shipped >= core.revision()) {
      return Optional.empty();
    }
    long revision = Math.max(shipped + 1, core.journal().first());
    if (revision > core.revision()) {
      return Optional.empty();
    }
    ChangeBatch b = core.journal().from(revision, 1).get(0);
    return Optional.of(new WriteAuthority.Unshipped(b.getRevision(), b.getCommitTimeMs()));
  }

  /** Lease {@code id}'s last checkpointed remainder in ms; 0 if none (or no such lease). */
  public long checkpointedRemainder(long id) {
    LeaseTable.Lease lease = tables.leases().get(id);
    return lease == null ? 0 : lease.record().getRemainingMs();
  }

  /** The replicated limits: quota and dedup capacity. */
  public ShardSettings settings() {
    return core.settings();
  }

  /** Whether an {@code InitShard} command has been applied. */
  public boolean initialized() {
    return core.initialized();
  }

  /** The term of the last applied LeaderStart: expiries from older terms are ignored. */
  public long leaderTerm() {
    return core.leaderTerm();
  }

  /** The revision at which each epoch began, oldest first. */
  public List<EpochStart> epochHistory() {
    return List.copyOf(core.epochHistory());
  }

  /**
   * Reads keys at the current or a past revision.
   *
   * @throws MeridianException COMPACTED (details "compact_revision"), FUTURE_REVISION or
   *     INVALID_ARGUMENT
   */
  public RangeResponse range(RangeRequest request) {
    return kv.range(request, core.header());
  }

  /**
   * The key changes in {@code range} at revisions {@code from..to}, ordered by revision and by key
   * within a revision: what a watch that starts at {@code from} replays. A put's {@code prev} is
   * the version it replaced (null if the key was created); a delete's {@code prev} is the deleted
   * one.
   *
   * @throws MeridianException COMPACTED (details "compact_revision") if {@code from} is at or below
   *     the compaction revision, where deletions may no longer be retained
   */
  @Override
  public List<Change> changes(KeyRange range, long from, long to) {
    checkWatchable(from);
    List<Change> out = new ArrayList<>();
    tables
        .keys()
        .store()
        .versions(
            range,
            from,
            to,
            (kv, replaced) -> {
              KeyValue prev = replaced == null || MvccStore.isTombstone(replaced) ? null : replaced;
              out.add(
                  MvccStore.isTombstone(kv)
                      ? new Change.KvDelete(kv.getKey(), kv.getModRevision(), prev)
                      : new Change.KvPut(kv, prev));
            });
    // Stable: key order, and each key's versions in write order, within a revision.
    out.sort(
        java.util.Comparator.comparingLong(
            c ->
                c instanceof Change.KvPut p
                    ? p.kv().getModRevision()
                    : ((Change.KvDelete) c).revision()));
    return out;
  }

  /**
   * Checks that a watch may replay from {@code revision}: deletions at or below the compaction
   * revision may no longer be retained.
   *
   * @throws MeridianException COMPACTED (details "compact_revision")
   */
  @Override
  public void checkWatchable(long revision) {
    if (revision <= core.compactRevision()) {
      throw kv.compacted(revision);
    }
  }

  /**
   * Checks that a caller's position (epoch, revision) lies on this shard's history: a failover that
   * lost an unshipped tail started the next epoch at or below {@code revision}. Epoch 0 is the
   * caller who does not know (nothing to check).
   *
   * @throws MeridianException HISTORY_DIVERGED
   */
  @Override
  public void checkPosition(long epoch, long revision) {
    if (epoch == 0) {
      return;
    }
    List<EpochStart> history = core.epochHistory();
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).getEpoch() != epoch) {
        continue;
      }
      if (i + 1 < history.size() && revision >= history.get(i + 1).getStartRevision()) {
        break;
      }
      return;
    }
    throw MeridianException.of(
        Error.Code.HISTORY_DIVERGED,
        "position (epoch %d, revision %d): not on shard %d's history %s; re-read the state and"
            + " resume from its revision",
        epoch,
        revision,
        core.shard(),
        history.stream().map(e -> e.getEpoch() + "@" + e.getStartRevision()).toList());
  }

  /**
   * Up to {@code max} change batches of the revisions after position ({@code epoch}, {@code
   * after}), oldest first: none when the position is the shard's revision.
   *
   * @throws MeridianException FUTURE_REVISION (the position is beyond the shard's revision),
   *     COMPACTED (details "compact_revision") or HISTORY_DIVERGED
   */
  @Override
  public List<ChangeBatch> changeBatches(long epoch, long after, int max) {
    if (after < 0 || after > core.revision()) {
      throw MeridianException.of(
          Error.Code.FUTURE_REVISION,
          "position revision: %d (expected: 0..%d, the shard's revision)",
          after,
          core.revision());
    }
    checkWatchable(after + 1);
    long floor = core.journal().first() - 1;
    if (after < floor) {
      // Only after an upgrade from a snapshot without a journal: treated like compaction.
      throw new MeridianException(
          Error.Code.COMPACTED,
          String.format("revision: %d (the change journal starts after revision %d)", after, floor),
          java.util.Map.of("compact_revision", Long.toString(floor)));
    }
    checkPosition(epoch, after);
    return core.journal().from(after + 1, max);
  }

  /** How far the replication bridge reported having shipped this shard (0: never). */
  public long shipped() {
    return core.shippedRevision();
  }

  /** When the bridge last reported shipping (leader clock, ms); 0 if no bridge ever did. */
  public long lastReportMs() {
    return core.lastReportMs();
  }

  /** Where replication of this shard stands, from the committed state. */
  public ReplicationState replicationState() {
    return ReplicationCommands.state(core);
  }

  /** Lease {@code id}, if it exists. */
  public Optional<LeaseView> lease(long id) {
    LeaseTable.Lease lease = tables.leases().get(id);
    return lease == null ? Optional.empty() : Optional.of(LeaseCommands.view(lease));
  }

  /** The leases of a namespace (all leases for ""), by id. */
  public List<LeaseView> leases(String namespaceOrEmptyForAll) {
    List<LeaseView> out = new ArrayList<>();
    for (LeaseTable.Lease lease : tables.leases().list(namespaceOrEmptyForAll)) {
      out.add(LeaseCommands.view(lease));
    }
    return out;
  }

  /**
   * Holders and waiters (in queue order) of a lock.
   *
   * @throws MeridianException INVALID_ARGUMENT for a bad lock name
   */
  public LockInspectResponse inspectLock(String name) {
    return locks.inspect(name);
  }

  /**
   * Where lease {@code lease}'s wait for lock {@code name} stands in the applied state: granted
   * (with its token, key and grant revision), still waiting, or gone.
   */
  public LockWaiterState lockWaiter(String name, long lease) {
    LockTable.Waiter w = tables.locks().find(name, lease);
    if (w == null) {
      return new LockWaiterState.Gone(tables.leases().contains(lease));
    }
    if (!w.granted()) {
      return new LockWaiterState.Waiting();
    }
    return new LockWaiterState.Held(
        w.value().getFencingToken(), w.key(), w.value().getGrantRevision());
  }

  /** Waiters whose deadline_ms (non-zero) is <= nowMs: what the leader cancels. */
  public List<LockCancel.Waiter> waitersPastDeadline(long nowMs) {
    List<LockCancel.Waiter> out = new ArrayList<>();
    for (LockTable.Waiter w : tables.locks().waitersPastDeadline(nowMs)) {
      out.add(LockCancel.Waiter.newBuilder().setName(w.name()).setLease(w.lease()).build());
    }
    return out;
  }

  /**
   * The instances of a service that pass the request's filters, zone-local first, then
   * region-local, then the rest, by id within each tier. {@code wait_revision}, {@code wait_ms} and
   * {@code consistency} are the node's business and ignored here.
   *
   * @throws MeridianException INVALID_ARGUMENT for a bad namespace or service name
   */
  public DiscoverResponse discover(DiscoverRequest request) {
    return registryReads.discover(request);
  }

  /** The services of a namespace by name, with counts; INVALID_ARGUMENT for a bad namespace. */
  public ListServicesResponse listServices(String namespace) {
    return registryReads.listServices(namespace);
  }

  /** One registry instance, if registered; INVALID_ARGUMENT for a bad name or id. */
  public Optional<Instance> instance(String namespace, String service, String id) {
    return registryReads.instance(namespace, service, id);
  }

  /** Whether registry self-preservation is on: expiries skip preservable leases. */
  public boolean selfPreservation() {
    return core.selfPreservation();
  }

  /** Number of registered instances. */
  public long registryInstances() {
    return tables.registry().size();
  }

  /**
   * Heartbeats the registered instances promised in {@code windowMs}: the sum over instances of
   * {@code windowMs / heartbeat_interval_ms}, the denominator of self-preservation's renewal ratio.
   */
  public double expectedRenewals(long windowMs) {
    return tables.registry().expectedRenewals(windowMs);
  }

  /** Number of registry instances bound to lease {@code leaseId}. */
  public int registryInstancesOf(long leaseId) {
    return tables.registry().instancesOf(leaseId);
  }

  /**
   * Whether self-preservation keeps lease {@code leaseId} from expiring while on: it holds at least
   * one registry instance and no lock key.
   */
  public boolean preservable(long leaseId) {
    return RegistryCommands.preservable(tables.leases(), tables.registry(), leaseId);
  }

  /** Sizes for status and metrics; computed from counters kept up to date by apply. */
  public StateStats stats() {
    return new StateStats(
        tables.keys().store().liveKeys(),
        tables.leases().size(),
        tables.locks().holders(),
        tables.locks().waiters(),
        core.stateBytes(),
        core.quotaBytes(),
        core.noSpaceAlarm(),
        tables.registry().size(),
        core.selfPreservation());
  }

  /** Writes the canonical snapshot (see {@link SnapshotCodec}); does not close {@code out}. */
  public void writeSnapshot(OutputStream out) throws IOException {
    freeze().writeTo(out);
  }

  /**
   * The state as it is now, for a snapshot written on another thread while commands go on being
   * applied. O(1): the tables are persistent collections, shared until written again.
   */
  public Frozen freeze() {
    return new Frozen(SnapshotCodec.freeze(tables));
  }

  /**
   * A shard's state frozen by {@link #freeze}: what {@link #writeSnapshot} wrote at that moment.
   */
  public static final class Frozen {
    private final SnapshotCodec.Frozen frozen;

    private Frozen(SnapshotCodec.Frozen frozen) {
      this.frozen = frozen;
    }

    /** The shard's revision when frozen. */
    public long revision() {
      return frozen.header().getRevision();
    }

    /** Writes the canonical snapshot; safe from any thread; does not close {@code out}. */
    public void writeTo(OutputStream out) throws IOException {
      SnapshotCodec.write(frozen, out);
    }

    /**
     * The manifest of a snapshot file of this state, without its format version, where it came from
     * ({@code created_ms}, region, member) and the body's size and checksum: its revision, epoch
     * history, chain hash and {@linkplain ShardState#contentHash() content hash}. O(keys): hashes
     * the state.
     */
    public SnapshotManifest describe() {
      SnapshotHeader header = frozen.header();
      SnapshotCodec.Content content = SnapshotCodec.content(frozen);
      return SnapshotManifest.newBuilder()
          .setShard(header.getShard())
          .setRevision(header.getRevision())
          .setCompactRevision(header.getCompactRevision())
          .setRole(header.getRole())
          .setEpoch(header.getEpoch())
          .addAllEpochHistory(header.getEpochHistoryList())
          .setChainHash(header.getChainHash())
          .setCommitTimeMs(header.getCommitTimeMs())
          .setStateHash(ByteString.copyFrom(content.hash()))
          .setKeys(content.keys())
          .setLeases(content.leases())
          .build();
    }
  }

  /**
   * Loads a snapshot written by {@link #writeSnapshot}, rebuilding every derived index.
   *
   * @throws IOException if the stream is truncated, corrupt or of an unknown format
   */
  public static ShardState readSnapshot(InputStream in) throws IOException {
    return new ShardState(SnapshotCodec.read(in));
  }

  /**
   * Makes this state the first state of a new cluster restored from a snapshot, and returns it: the
   * history before its revision is compacted (old versions, tombstones and the change journal
   * dropped, the compact revision set to the revision), so a read or watch below the revision
   * answers COMPACTED; the chain hash at the revision stays, so the change topic can continue it.
   * The leader term is cleared: the new cluster's Raft terms start again, and a lease expiry of its
   * first leader must not look older than the old cluster's last one. Content (live keys, leases,
   * role, epoch) is unchanged, and so is {@link #contentHash()}.
   *
   * <p>Deterministic (every member restored from the same state ends equal) and idempotent. Call it
   * on a state no replica serves, e.g. one read from a snapshot file.
   */
  public ShardState restored() {
    compactHistory(tables);
    core.setLeaderTerm(0);
    return this;
  }

  /** Compacts {@code tables}' history through their revision, as a restore does. */
  static void compactHistory(Tables tables) {
    StateCore core = tables.core();
    long revision = core.revision();
    if (revision > core.compactRevision()) {
      tables.keys().store().compact(revision);
      core.journal().trimThrough(revision);
      core.setCompactRevision(revision);
    }
  }

  /**
   * SHA-256 of the canonical snapshot bytes: equal states have equal hashes, down to retained
   * versions, remembered request ids and replication positions (members of one cluster agree on
   * it).
   */
  public byte[] stateHash() {
    MessageDigest sha = SnapshotCodec.sha256();
    try (DigestOutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), sha)) {
      writeSnapshot(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return sha.digest();
  }

  /**
   * SHA-256 of the shard's content at its revision: live keys and leases only (see {@link
   * SnapshotCodec}). Equal across regions and across a restore at equal revisions, where {@link
   * #stateHash()} is not.
   */
  public byte[] contentHash() {
    return SnapshotCodec.content(SnapshotCodec.freeze(tables)).hash();
  }
}
