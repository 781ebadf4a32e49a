package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeasePolicy;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.LeaseEvent;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.lease.LeaseView;
import io.meridian.cluster.lock.LockReplica;
import io.meridian.cluster.lock.LockWaits;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.proto.PromotionWait;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.QueryResultBatch;
import io.meridian.cluster.proto.ReadBarrier;
import io.meridian.cluster.proto.SetSelfPreservation;
import io.meridian.cluster.proto.SetSettings;
import io.meridian.cluster.proto.SetWriteAuthority;
import io.meridian.cluster.proto.ShardSettings;
import io.meridian.cluster.raft.ShardStateMachine;
import io.meridian.cluster.registry.SelfPreservation;
import io.meridian.cluster.replication.ChangeFeed;
import io.meridian.cluster.replication.FeedReplica;
import io.meridian.cluster.replication.WriteAuthority;
import io.meridian.cluster.state.ShardState;
import io.meridian.cluster.watch.WatchHub;
import io.meridian.cluster.watch.WatchReplica;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shard's replica on this node: proposes commands through Raft, serves reads at the requested
 * consistency, and, while this node leads the shard, runs the leader's duties (lease deadlines and
 * expiry, lease checkpoints, cancelling waiters past their deadline, automatic compaction, the
 * shard's initial role).
 *
 * <p>It is where a shard's Raft events (applied entries, leadership changes, reads handed to the
 * leader) meet this node's parts of the shard, so it is longer than our other classes: what it
 * wires lives elsewhere ({@link Proposals} and {@link LeaderReads} for the write and read paths,
 * {@link LeaderAnswers} for what only the leader answers, {@link LeaderState} for the leader's
 * duties, {@link LocalDivision} for log bounds, snapshots and step-down, and the domains' {@code
 * LeaseClock}, {@code LockWaits}, {@code WatchHub} and {@code ChangeFeed}).
 */
public final class ShardReplica
    implements LockReplica, WatchReplica, FeedReplica, ShardStateMachine.Hooks, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ShardReplica.class);

  private final NodeConfig config;
  private final NodeConfig.ShardSpec spec;
  private final RaftServer server;
  private final RaftGroupId groupId;
  private final ShardStateMachine stateMachine;
  // How this member reaches Raft, the writes it proposes and the reads it sends to the leader.
  private final RaftCalls raft;
  private final LocalDivision division;
  private final Membership membership;
  private final Proposals proposals;
  private final LeaderReads leaderReads;
  private final AppliedIndex appliedIndex;
  private final io.meridian.cluster.raft.HeartbeatAcks heartbeats;

  private final NodeClock clock;
  private final LeaseClock leaseClock;
  private final LockWaits lockWaits;
  private final WatchHub watchHub;
  private final ChangeFeed changeFeed;
  private final SelfPreservation selfPreservation;
  private final WriteAuthority writeAuthority;
  // Leader-check ticks in a row without a known leader; duty thread only.
  private int leaderlessTicks;
  private final MeterRegistry metrics;
  private final Timer applyTimer;
  private final LeaderAnswers leaderAnswers;
  private final ReadBarriers readBarriers;
  // The duties of the term this member leads, from its first applied entry to its end; else null.
  private volatile LeaderState leader;
  private final RevisionHistory revisions = new RevisionHistory();

  /** How often the leader's duties are polled: the finest of their intervals. */
  static final long LEADER_DUTY_POLL_MS = 100;

  private final List<ScheduledFuture<?>> duties;

  public ShardReplica(
      NodeConfig config,
      NodeConfig.ShardSpec spec,
      RaftServer server,
      RaftGroupId groupId,
      ShardStateMachine stateMachine,
      Supplier<RaftClient> newClient,
      Parameters transport,
      NodeClock clock,
      ScheduledExecutorService scheduler,
      MeterRegistry metrics) {
    this.config = config;
    this.spec = spec;
    this.server = server;
    this.groupId = groupId;
    this.stateMachine = stateMachine;
    this.raft =
        new RaftCalls(spec.id(), config.region(), config.member(), server, groupId, newClient);
    this.division =
        new LocalDivision(
            spec.id(),
            config.region(),
            config.member(),
            config.raft().electionTimeoutMaxMs(),
            raft,
            stateMachine);
    this.membership = new Membership(spec.id(), config, raft, division, newClient, transport);
    this.clock = clock;
    this.metrics = metrics;
    this.leaseClock = new LeaseClock(config.raft().electionTimeoutMaxMs(), clock::monotonicMillis);
    this.lockWaits =
        new LockWaits(
            (name, lease) -> stateMachine.read(s -> s.lockWaiter(name, lease)),
            stateMachine.read(ShardState::revision));
    this.readBarriers = new ReadBarriers(this::proposeReadBarrier, READ_CONFIRM_TIMEOUT_MS);
    Tags tags = Tags.of("shard", Integer.toString(spec.id()));
    this.applyTimer =
        Timer.builder("meridian.apply")
            .description("Time to apply one committed Raft entry to the shard's state")
            .tags(tags)
            .register(metrics);
    this.appliedIndex = new AppliedIndex(division.appliedIndex());
    this.heartbeats =
        io.meridian.cluster.raft.HeartbeatAcks.of(
            org.apache.ratis.protocol.RaftGroupMemberId.valueOf(server.getId(), groupId));
    this.proposals =
        new Proposals(
            spec.id(),
            config.member(),
            raft,
            ReplicaMetrics.summary(
                    metrics,
                    "meridian.propose.batch",
                    "Client writes per Raft entry this member proposed",
                    tags)
                ::record);
    this.leaderReads =
        new LeaderReads(
            config.member(),
            raft,
            appliedIndex,
            this::answerConfirmed,
            READ_CONFIRM_TIMEOUT_MS,
            ReplicaMetrics.summary(
                    metrics,
                    "meridian.leader.read.batch",
                    "Leader-bound reads (keep-alives, heartbeats, TTLs) per Raft read sent",
                    tags)
                ::record,
            ReplicaMetrics.summary(
                    metrics,
                    "meridian.read.linearizable.batch",
                    "Linearizable reads answered per read index this member fetched",
                    tags)
                ::record);
    this.selfPreservation =
        new SelfPreservation(
            config.registry().selfPreservation(),
            config.registry().renewalThreshold(),
            config.registry().minInstances(),
            config.registry().checkIntervalMs());
    this.writeAuthority = new WriteAuthority(config.replication().writeAuthorityMs());
    this.leaderAnswers =
        new LeaderAnswers(
            config.member(),
            stateMachine,
            leaseClock,
            selfPreservation,
            this::leadingTerm,
            this::proposeAsLeader);
    this.watchHub =
        new WatchHub(
            spec.id(),
            stateMachine,
            this::header,
            new WatchHub.Options(
                config.watch().progressIntervalMs(),
                config.watch().replayEvents(),
                config.watch().maxPendingBytes() / 4),
            config.member());
    this.changeFeed = new ChangeFeed(stateMachine);
    ReplicaMetrics.gauges(metrics, tags, this);
    stateMachine.setHooks(this);
    // Entries applied before the hooks were set moved the index without telling us.
    appliedIndex.advance(division.appliedIndex());
    watchHub.start();
    this.duties =
        List.of(
            scheduler.scheduleWithFixedDelay(
                this::checkLeader, LEADER_CHECK_MS, LEADER_CHECK_MS, TimeUnit.MILLISECONDS),
            scheduler.scheduleWithFixedDelay(
                this::runLeaderDuties,
                LEADER_DUTY_POLL_MS,
                LEADER_DUTY_POLL_MS,
                TimeUnit.MILLISECONDS),
            // Every member samples, so a new leader knows the revisions' ages at once.
            scheduler.scheduleWithFixedDelay(
                () -> revisions.sample(clock.monotonicMillis(), read(ShardState::revision)),
                0,
                config.storage().compactionIntervalMs(),
                TimeUnit.MILLISECONDS));
    // A leader elected before the hooks were set still has to start its term.
    DivisionInfo info = info();
    if (info != null && info.isLeader()) {
      onLeaderChanged(info.getLeaderId(), true);
    }
  }

  public int shard() {
    return spec.id();
  }

  /** The watches served by this member for this shard. */
  public WatchHub watchHub() {
    return watchHub;
  }

  /** The change feeds of this replica (what the replication bridge reads). */
  public ChangeFeed changeFeed() {
    return changeFeed;
  }

  public LockWaits lockWaits() {
    return lockWaits;
  }

  public LeaseClock leaseClock() {
    return leaseClock;
  }

  public NodeClock clock() {
    return clock;
  }

  public NodeConfig config() {
    return config;
  }

  /** Runs {@code reader} against this replica's applied state. */
  public <T> T read(Function<ShardState, T> reader) {
    return stateMachine.read(reader);
  }

  @Override
  public ReplicationState replicationState() {
    return read(ShardState::replicationState);
  }

  /** This node's Raft view of the shard. */
  public DivisionInfo info() {
    return raft.info();
  }

  public ShardStateMachine stateMachine() {
    return stateMachine;
  }

  /**
   * Takes a snapshot of this replica now; completes with its log index once it is written and Ratis
   * has recorded it (and purged its log up to it).
   */
  public CompletableFuture<Long> snapshot() {
    return division.snapshot();
  }

  /** Hands this shard's leadership to voter {@code to} (see {@link LocalDivision}). */
  public CompletableFuture<Void> transferLeadership(String to, long timeoutMs) {
    return division.transferLeadership(to, timeoutMs);
  }

  /** The members of this shard's Raft group and the changes made to them. */
  public Membership membership() {
    return membership;
  }

  /** The first index still in this node's Raft log (above 0 once a purge happened). */
  public long logStartIndex() {
    return division.logStartIndex();
  }

  /** The highest log index this node knows to be committed. */
  public long commitIndex() {
    return division.commitIndex();
  }

  /** Completes the header with where and when the response was served. */
  public ResponseHeader header(ResponseHeader partial) {
    DivisionInfo info = info();
    ResponseHeader.Builder b =
        partial.toBuilder()
            .setShard(spec.id())
            .setRegion(config.region())
            .setMember(config.member());
    if (info != null) {
      RaftPeerId leader = info.getLeaderId();
      if (leader != null) {
        b.setLeader(leader.toString());
      }
      b.setRaftTerm(info.getCurrentTerm());
    }
    if (partial.getRevision() == 0 && partial.getEpoch() == 0) {
      read(
          s -> {
            b.setRevision(s.revision()).setEpoch(s.epoch()).setRole(s.role());
            return null;
          });
    }
    return b.build();
  }

  /**
   * Proposes {@code command}; completes with its result, or with an UNAVAILABLE error result (no
   * leader reachable, too many writes in flight on this member, or leadership moved while a write
   * without a request id was in flight: retry with backoff). Writes that arrive while earlier ones
   * are in flight go out together as one log entry; each is applied as if proposed alone.
   */
  public CompletableFuture<CommandResult> propose(Command command) {
    return proposals.propose(command);
  }

  /**
   * Proposes a leader duty's command to this member's own Raft server while it leads {@code term}
   * (see {@link Proposals#proposeAsLeader}).
   */
  CompletableFuture<CommandResult> proposeAsLeader(Command command, long term) {
    return proposals.proposeAsLeader(command, term);
  }

  /**
   * Closes the current Raft client for writes, as Ratis does after a request ran out of retries
   * (tests).
   */
  void closeRaftClientForTest() throws IOException {
    raft.closeWriteClient();
  }

  /**
   * A linearizable read, answered by this member from its own state once it has applied the
   * leader's read index: an index the leader gave after confirming its leadership ({@link
   * ReadBarriers}) for a request sent after this read arrived, so every write that completed before
   * the read is applied here (etcd's ReadIndex, served on any member). Reads that arrive while a
   * read index is being fetched share the next one ({@link BatchQueue}); a STANDBY refuses them
   * with FAILED_PRECONDITION. While leadership moves, retried every 100 ms for up to about 5 s.
   */
  public CompletableFuture<QueryResult> readLinearizable(Query query) {
    return leaderReads.readLinearizable(query);
  }

  /** Answers reads whose read index this member has applied. */
  private QueryResult answerConfirmed(Query query) {
    if (query.hasBatch()) {
      QueryResultBatch.Builder b = QueryResultBatch.newBuilder();
      for (Query q : query.getBatch().getQueriesList()) {
        b.addResults(answerConfirmed(q));
      }
      return QueryResult.newBuilder().setBatch(b).build();
    }
    try {
      read(
          s -> {
            s.requireLinearizable();
            return null;
          });
    } catch (MeridianException e) {
      return QueryResult.newBuilder().setError(e.toError()).build();
    }
    return readLocal(query);
  }

  /**
   * A read the leader itself must answer (lease keep-alives and remaining TTLs live in its memory):
   * sent to the leader this node sees, answered once its leadership is confirmed, in a batch with
   * the other leader reads this member has waiting. While leadership moves, a follower or a leader
   * that has not started its term refuses with {@code UNAVAILABLE}; the read is retried every 100
   * ms for up to about 5 s.
   */
  public CompletableFuture<QueryResult> readAtLeader(Query query) {
    return leaderReads.readAtLeader(query);
  }

  Proposals proposals() {
    return proposals;
  }

  LeaderReads leaderReads() {
    return leaderReads;
  }

  SelfPreservation selfPreservation() {
    return selfPreservation;
  }

  // ---- Hooks ----

  @Override
  public void onApplied(Command command, ApplyResult result, long term, long index) {
    readBarriers.applied(term, index);
    appliedIndex.advance(index);
    long now = clock.nowMillis();
    if (command.getNowMs() > 0) {
      applyTimer.record(Math.max(0, now - command.getNowMs()), TimeUnit.MILLISECONDS);
    }
    if (!result.committed().isEmpty()) {
      for (ApplyResult.Committed c : result.committed()) {
        watchHub.applied(c.batch().getRevision(), c.batch().getEpoch(), result.role(), c.changes());
      }
      changeFeed.committed();
    }
    for (LockEvent event : result.lockEvents()) {
      lockWaits.onEvent(event);
    }
    lockWaits.applied(result.revision());
    for (LeaseEvent event : result.leaseEvents()) {
      if (event instanceof LeaseEvent.Granted g) {
        leaseClock.granted(g.id(), g.ttlMs());
      } else if (event instanceof LeaseEvent.Ended e) {
        leaseClock.ended(e.id());
      }
    }
    if (command.hasLeaderStart() && command.getLeaderStart().getLeader().equals(config.member())) {
      // Our term's marker is applied: every earlier expiry is settled, take over the leases. The
      // clock refuses if leadership of this term was lost meanwhile.
      List<LeaseView> leases = stateMachine.read(s -> s.leases(""));
      if (leaseClock.start(term, leases)) {
        leader =
            new LeaderState(
                term,
                config.member(),
                duties(),
                stateMachine,
                leaseClock,
                selfPreservation,
                writeAuthority,
                revisions,
                clock.monotonicMillis());
        log.info(
            "shard={} region={} member={} leads term {} with {} leases, revision={}",
            spec.id(),
            config.region(),
            config.member(),
            term,
            leases.size(),
            result.revision());
        initializeIfNew();
        replicateSettings(term);
      }
    }
    if (command.hasSetRole()
        && !result.result().hasError()
        && command.getSetRole().getRole() == Role.PRIMARY
        && leaseClock.ready()) {
      // A promotion: clients renewed with the old primary, so every lease gets its full TTL (with
      // REVOKE none is left). The state cleared their remainders, so a later leader does the same.
      List<LeaseView> leases = stateMachine.read(s -> s.leases(""));
      leaseClock.extendAll(leases);
      Optional<PromotionWait> wait = stateMachine.read(ShardState::promotionWait);
      log.info(
          "shard={} region={} member={} promoted to PRIMARY at epoch {} (lease policy {}): {}"
              + " leases extended by their TTL, revision={}{}",
          spec.id(),
          config.region(),
          config.member(),
          command.getSetRole().getEpoch(),
          command.getSetRole().getLeasePolicy() == LeasePolicy.REVOKE ? "REVOKE" : "EXTEND",
          leases.size(),
          result.revision(),
          wait.filter(w -> w.getEpoch() == command.getSetRole().getEpoch())
              .map(
                  w ->
                      String.format(
                          "; the old primary could not be fenced: writes refused until %s, %d"
                              + " locks held at the promotion go to no new holder until %s",
                          Instant.ofEpochMilli(w.getWritesUntilMs()),
                          w.getLocksCount(),
                          Instant.ofEpochMilli(w.getLocksUntilMs())))
              .orElse(""));
    }
    if (command.hasResetEnd() && !command.getResetEnd().getAbandon() && !result.isError()) {
      onReset(result.revision());
    }
    if (command.hasEndPromotionWait() && leaseClock.ready()) {
      boolean ended = stateMachine.read(s -> s.promotionWait().isEmpty());
      if (ended) {
        log.info(
            "shard={} region={} member={} promotion wait over: locks held at the promotion may go"
                + " to new holders, revision={}",
            spec.id(),
            config.region(),
            config.member(),
            result.revision());
      }
    }
  }

  @Override
  public void onIndexApplied(long index) {
    appliedIndex.advance(index);
  }

  @Override
  public void onStateReloaded() {
    appliedIndex.advance(division.appliedIndex());
    lockWaits.reloaded(read(ShardState::revision));
    watchHub.reloaded();
    changeFeed.committed();
  }

  /**
   * The state was replaced at this entry by a reset from a snapshot: the companions follow as after
   * a reload, and the watches see a history break. A leader that keeps leases restarts their
   * deadlines from the new state, as a restored cluster's first leader does.
   */
  private void onReset(long revision) {
    revisions.clear();
    lockWaits.reloaded(revision);
    watchHub.reset(revision);
    changeFeed.committed();
    long term = leaseClock.term();
    if (term >= 0) {
      leaseClock.start(term, stateMachine.read(s -> s.leases("")));
    }
  }

  @Override
  public void onLeaderChanged(RaftPeerId leader, boolean self) {
    selfPreservation.restart();
    // A new term's duties start once its first entry is applied (onApplied).
    this.leader = null;
    if (!self) {
      leaseClock.follow();
      readBarriers.lost();
      heartbeats.lost(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "member %s no longer leads shard %d: retry",
              config.member(),
              spec.id()));
      log.info(
          "shard={} region={} member={} follows leader {}",
          spec.id(),
          config.region(),
          config.member(),
          leader);
      return;
    }
    DivisionInfo info = info();
    long term = info == null ? -1 : info.getCurrentTerm();
    leaseClock.lead(term);
    Counter.builder("meridian.leader.changes")
        .description("Times this member became the shard's leader")
        .tag("shard", Integer.toString(spec.id()))
        .register(metrics)
        .increment();
    proposeAsLeader(
            Command.newBuilder()
                .setLeaderStart(LeaderStart.newBuilder().setLeader(config.member()))
                .build(),
            term)
        .whenComplete(
            (r, t) -> {
              if (t != null) {
                log.warn(
                    "shard={} region={} member={} could not start term {}: {}",
                    spec.id(),
                    config.region(),
                    config.member(),
                    term,
                    t.toString());
              }
            });
  }

  /** The limits this node's config asks for; the replicated ones are what apply uses. */
  private ShardSettings configuredSettings() {
    return ShardSettings.newBuilder()
        .setQuotaBytes(config.storage().quotaBytes())
        .setDedupCapacity(config.storage().dedupCapacity())
        .build();
  }

  /**
   * Once this member leads: proposes its config's limits when they differ from the replicated ones,
   * so a changed config takes effect with a rolling restart (members with different configs take
   * turns, each leader's config winning while it leads: keep them equal).
   */
  private void replicateSettings(long term) {
    ShardSettings wanted = configuredSettings();
    ShardSettings current = read(ShardState::settings);
    if (!read(ShardState::initialized) || wanted.equals(current)) {
      return;
    }
    proposeAsLeader(
            Command.newBuilder()
                .setSetSettings(SetSettings.newBuilder().setSettings(wanted))
                .build(),
            term)
        .thenAccept(
            r ->
                log.info(
                    "shard={} region={} member={} replicated its settings: quota-bytes {} (was"
                        + " {}), dedup-capacity {} (was {})",
                    spec.id(),
                    config.region(),
                    config.member(),
                    wanted.getQuotaBytes(),
                    current.getQuotaBytes(),
                    wanted.getDedupCapacity(),
                    current.getDedupCapacity()));
  }

  private void initializeIfNew() {
    if (read(ShardState::initialized)) {
      return;
    }
    propose(
            Command.newBuilder()
                .setInitShard(
                    InitShard.newBuilder()
                        .setShard(spec.id())
                        .setRole(spec.role())
                        .setEpoch(spec.epoch())
                        .setSettings(configuredSettings()))
                .build())
        .thenAccept(
            r ->
                log.info(
                    "shard={} region={} initialized as {} epoch {}",
                    spec.id(),
                    config.region(),
                    spec.role(),
                    spec.epoch()));
  }

  /**
   * A read Ratis hands over to its leader (read option DEFAULT, no read index): a linearizable read
   * of the applied state, or a read only the leader can answer (keep-alives, heartbeats, remaining
   * TTLs), answered once {@link ReadBarriers} confirmed this member still led after it arrived. A
   * region cluster that is not the PRIMARY answers neither: its state is the primary's past, and
   * its leases are the primary's to keep.
   */
  @Override
  public CompletableFuture<QueryResult> query(Query query) {
    DivisionInfo info = info();
    if (info == null || !info.isLeader()) {
      return CompletableFuture.completedFuture(
          LeaderReads.notReady("member " + config.member() + " does not lead shard " + spec.id()));
    }
    long term = info.getCurrentTerm();
    return division
        .confirmLeadership(term, leadingTerm() == term, heartbeats, readBarriers)
        .thenCompose(index -> appliedIndex.await(index).thenApply(applied -> index))
        // Off the apply thread, which confirms reads: answering a batch there would stall applies.
        .thenComposeAsync(
            index ->
                query.hasReadIndex()
                    ? CompletableFuture.completedFuture(
                        QueryResult.newBuilder().setReadIndex(index).build())
                    : leaderAnswers.answer(query),
            raft.localThreads())
        .exceptionally(
            t -> QueryResult.newBuilder().setError(RaftCalls.unavailable(t).toError()).build());
  }

  /** How long a read waits for a majority to confirm this member's leadership. */
  static final long READ_CONFIRM_TIMEOUT_MS = 3_000;

  private CompletableFuture<CommandResult> proposeReadBarrier(long term) {
    return proposeAsLeader(
        Command.newBuilder().setReadBarrier(ReadBarrier.getDefaultInstance()).build(), term);
  }

  /**
   * A read of this replica's applied state at whatever revision it has applied (SERIALIZABLE,
   * LOCAL), or once leadership is confirmed (LINEARIZABLE, through {@link #query}).
   */
  public QueryResult readLocal(Query query) {
    return read(s -> s.query(query));
  }

  // ---- Duties ----

  private static final long LEADER_CHECK_MS = 200;

  /**
   * Watches are served from this member's applied state; without a leader it stops advancing. After
   * twice the longest election timeout without one, its watches fail so clients resume elsewhere.
   */
  private void checkLeader() {
    DivisionInfo info = info();
    if (info != null && info.isLeader()) {
      division.stepDownIfCutOff(info, proposals.duties());
    }
    if (info != null && info.getLeaderId() != null) {
      leaderlessTicks = 0;
      watchHub.available();
      return;
    }
    leaderlessTicks++;
    long leaderlessMs = leaderlessTicks * LEADER_CHECK_MS;
    if (leaderlessMs >= 2 * config.raft().electionTimeoutMaxMs()) {
      watchHub.unavailable(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "member %s has had no leader for shard %d for %d ms: its watches would go stale;"
                  + " resume at another member from the revision after the last one received",
              config.member(),
              spec.id(),
              leaderlessMs));
    }
  }

  /**
   * The term this member leads and has taken over the leases of, or -1: Raft must still name this
   * member leader of the clock's term (a leader that lost its term and has not heard yet runs no
   * duty).
   */
  private long leadingTerm() {
    long term = leaseClock.term();
    DivisionInfo info = info();
    return term >= 0 && info != null && info.isLeader() && info.getCurrentTerm() == term
        ? term
        : -1;
  }

  /**
   * Runs the duties of the term this member leads ({@link LeaderState}): proposes, as leader of
   * that term, each command due now.
   */
  private void runLeaderDuties() {
    LeaderState duty = leader;
    if (duty == null || leadingTerm() != duty.term()) {
      return;
    }
    List<Command> due;
    try {
      due = duty.poll(clock.monotonicMillis(), clock.nowMillis());
    } catch (RuntimeException e) {
      log.warn("shard={} leader duties failed", spec.id(), e);
      return;
    }
    for (Command command : due) {
      if (command.hasLeaseExpire()) {
        log.info(
            "shard={} region={} member={} term={} expiring leases {}",
            spec.id(),
            config.region(),
            config.member(),
            duty.term(),
            command.getLeaseExpire().getIdsList());
      }
      proposeAsLeader(command, duty.term())
          .whenComplete(
              (r, t) -> {
                duty.settled(command);
                if (t == null && command.hasSetSelfPreservation() && !r.hasError()) {
                  SetSelfPreservation d = command.getSetSelfPreservation();
                  log.warn(
                      "shard={} region={} self-preservation {}: {}",
                      spec.id(),
                      config.region(),
                      d.getActive() ? "ACTIVATED, registry evictions suspended" : "deactivated",
                      d.getReason());
                } else if (t == null && command.hasSetWriteAuthority() && !r.hasError()) {
                  logWriteAuthority(command.getSetWriteAuthority());
                } else if (t != null && !command.hasLeaseCheckpoint()) {
                  log.debug("shard={} leader duty not committed: {}", spec.id(), t.toString());
                }
              });
    }
  }

  /** One line when this leader committed that the shard lost or regained its write authority. */
  private void logWriteAuthority(SetWriteAuthority d) {
    long[] facts = read(s -> new long[] {s.revision(), s.shipped(), s.epoch()});
    if (d.getHeld()) {
      log.warn(
          "shard={} region={} member={} write authority REGAINED, writes and lock grants resume:"
              + " {} (revision={} shipped={} epoch={})",
          spec.id(),
          config.region(),
          config.member(),
          d.getReason(),
          facts[0],
          facts[1],
          facts[2]);
    } else {
      log.warn(
          "shard={} region={} member={} write authority LOST, writes and lock grants refused"
              + " with FENCED: {} (revision={} shipped={} epoch={})",
          spec.id(),
          config.region(),
          config.member(),
          d.getReason(),
          facts[0],
          facts[1],
          facts[2]);
    }
  }

  private LeaderState.Duties duties() {
    return new LeaderState.Duties(
        200,
        500,
        config.lease().checkpointIntervalMs(),
        config.storage().compactionIntervalMs(),
        config.storage().compactionRetentionRevisions(),
        config.storage().compactionRetentionMs(),
        // Windows are measured on the leader's clock; polling more often than a window keeps
        // them close to check-interval-ms.
        Math.min(1000, config.registry().checkIntervalMs()));
  }

  @Override
  public void close() throws IOException {
    duties.forEach(f -> f.cancel(false));
    watchHub.close();
    leaseClock.follow();
    leader = null;
    membership.close();
    raft.close();
    io.meridian.cluster.raft.HeartbeatAcks.forget(
        org.apache.ratis.protocol.RaftGroupMemberId.valueOf(server.getId(), groupId));
  }
}
