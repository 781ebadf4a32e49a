package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeaseStatus;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.cluster.NodeClock;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.feed.ChangeFeed;
import io.meridian.cluster.lease.LeaseClock;
import io.meridian.cluster.lease.RemainderClears;
import io.meridian.cluster.lock.LockWaits;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.QueryResultBatch;
import io.meridian.cluster.proto.ReadBarrier;
import io.meridian.cluster.proto.ReadIndex;
import io.meridian.cluster.proto.SetSelfPreservation;
import io.meridian.cluster.proto.SetSettings;
import io.meridian.cluster.proto.ShardSettings;
import io.meridian.cluster.raft.RatisMessages;
import io.meridian.cluster.raft.ShardStateMachine;
import io.meridian.cluster.registry.SelfPreservation;
import io.meridian.cluster.state.ApplyResult;
import io.meridian.cluster.state.LeaseEvent;
import io.meridian.cluster.state.LeaseView;
import io.meridian.cluster.state.LockEvent;
import io.meridian.cluster.state.ShardState;
import io.meridian.cluster.watch.WatchHub;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shard's replica on this node: proposes commands through Raft, serves reads at the requested
 * consistency, and, while this node leads the shard, runs the leader's duties (lease deadlines and
 * expiry, lease checkpoints, cancelling waiters past their deadline, automatic compaction, the
 * shard's initial role).
 */
public final class ShardReplica implements ShardStateMachine.Hooks, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ShardReplica.class);

  private final NodeConfig config;
  private final NodeConfig.ShardSpec spec;
  private final RaftServer server;
  private final RaftGroupId groupId;
  private final ShardStateMachine stateMachine;
  // Replaced when Ratis closes it: an ordered-async client whose request ran out of retries stays
  // closed for every later request (AlreadyClosedException).
  private final AtomicReference<RaftClient> client;
  // Reads sent to other members have their own client: on a failed request the Ratis client drops
  // its connection to the leader and fails everything in flight on it, and a slow read must not
  // take this member's writes down with it.
  private final AtomicReference<RaftClient> readClient;
  private final Supplier<RaftClient> newClient;
  // Reads this member submits to its own Raft server while it leads (no client, no network hop).
  private final org.apache.ratis.protocol.ClientId localReads =
      org.apache.ratis.protocol.ClientId.randomId();
  private final java.util.concurrent.atomic.AtomicLong localCallIds =
      new java.util.concurrent.atomic.AtomicLong();
  // Client writes this member submits to its own Raft server while it leads.
  private final org.apache.ratis.protocol.ClientId localWrites =
      org.apache.ratis.protocol.ClientId.randomId();
  private final java.util.concurrent.ExecutorService localReadThreads;
  private final BatchQueue<Query, QueryResult> leaderReads;
  private final BatchQueue<Command, CommandResult> proposals;
  private final BatchQueue<Query, QueryResult> linearReads;
  private final AppliedIndex appliedIndex;
  private final io.meridian.cluster.raft.HeartbeatAcks heartbeats;

  /**
   * Write batches (log entries) one member has in flight per shard, and the most one batch holds.
   * One in flight per member: the three members' entries still overlap at the leader, and each
   * waits for a whole round trip's writes. Side by side (bench/compare-etcd, gRPC puts, warm), 1 in
   * flight did 3,590/s at 16 writers and 12,953/s at 128 against 3,249/s and 10,840/s with 2 and
   * 2,307/s and 9,196/s with 4, with less CPU per put: Raft's cost is per entry. A batch stays far
   * below the appender's 4 MB buffer and gRPC's 6 MB message limit.
   */
  static final int PROPOSALS_IN_FLIGHT = 1;

  static final int PROPOSAL_BATCH = 256;
  static final long PROPOSAL_BATCH_BYTES = 1 << 20;

  /** Batches of leader reads one member has in flight per shard, and the reads in one batch. */
  static final int LEADER_READS_IN_FLIGHT = 2;

  static final int LEADER_READ_BATCH = 512;
  // Writes in flight through this member: beyond the bound a write fails fast with UNAVAILABLE
  // instead of blocking a server thread inside the Raft client.
  private final Semaphore writesInFlight = new Semaphore(MAX_WRITES_IN_FLIGHT);

  /** Writes one member may have in flight per shard; the Raft client allows as many. */
  public static final int MAX_WRITES_IN_FLIGHT = 1024;

  private final NodeClock clock;
  private final LeaseClock leaseClock;
  private final LockWaits lockWaits;
  private final WatchHub watchHub;
  private final ChangeFeed changeFeed;
  private final SelfPreservation selfPreservation;
  // Leader-check ticks in a row without a known leader; duty thread only.
  private int leaderlessTicks;
  private final MeterRegistry metrics;
  private final Timer applyTimer;
  private final RemainderClears remainderClears;
  private final ReadBarriers readBarriers;
  // A step-down this member asked of Raft is under way.
  private volatile boolean steppingDown;
  // The duties of the term this member leads, from its first applied entry to its end; else null.
  private volatile LeaderState leader;
  private final RevisionHistory revisions = new RevisionHistory();

  /** How often the leader's duties are polled: the finest of their intervals. */
  static final long LEADER_DUTY_POLL_MS = 100;

  private final List<ScheduledFuture<?>> duties;
  // Leader duties this member submits to its own Raft server (never resent to another leader).
  private final org.apache.ratis.protocol.ClientId localDuties =
      org.apache.ratis.protocol.ClientId.randomId();

  ShardReplica(
      NodeConfig config,
      NodeConfig.ShardSpec spec,
      RaftServer server,
      RaftGroupId groupId,
      ShardStateMachine stateMachine,
      Supplier<RaftClient> newClient,
      NodeClock clock,
      ScheduledExecutorService scheduler,
      MeterRegistry metrics) {
    this.config = config;
    this.spec = spec;
    this.server = server;
    this.groupId = groupId;
    this.stateMachine = stateMachine;
    this.newClient = newClient;
    this.client = new AtomicReference<>(newClient.get());
    this.readClient = new AtomicReference<>(newClient.get());
    this.localReadThreads =
        java.util.concurrent.Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "meridian-reads-" + config.member() + "-shard-" + spec.id());
              t.setDaemon(true);
              return t;
            });
    this.clock = clock;
    this.metrics = metrics;
    this.leaseClock = new LeaseClock(config.raft().electionTimeoutMaxMs(), clock::monotonicMillis);
    this.remainderClears = new RemainderClears(this::clearRemainders);
    this.lockWaits =
        new LockWaits(
            (name, lease) -> stateMachine.read(s -> s.lockWaiter(name, lease)),
            stateMachine.read(ShardState::revision));
    this.readBarriers = new ReadBarriers(this::proposeReadBarrier, READ_CONFIRM_TIMEOUT_MS);
    Tags tags = Tags.of("shard", Integer.toString(spec.id()));
    this.applyTimer = metrics.timer("meridian.apply", tags);
    io.micrometer.core.instrument.DistributionSummary batches =
        io.micrometer.core.instrument.DistributionSummary.builder("meridian.leader.read.batch")
            .description("Leader-bound reads (keep-alives, heartbeats, TTLs) per Raft read sent")
            .tags(tags)
            .register(metrics);
    this.leaderReads =
        BatchQueue.leaderReads(
            this::sendToLeader, LEADER_READS_IN_FLIGHT, LEADER_READ_BATCH, batches::record);
    metrics.gauge("meridian.leader.reads.waiting", tags, leaderReads, BatchQueue::waiting);
    io.micrometer.core.instrument.DistributionSummary writeBatches =
        io.micrometer.core.instrument.DistributionSummary.builder("meridian.propose.batch")
            .description("Client writes per Raft entry this member proposed")
            .tags(tags)
            .register(metrics);
    this.appliedIndex = new AppliedIndex(appliedIndexNow());
    this.heartbeats =
        io.meridian.cluster.raft.HeartbeatAcks.of(
            org.apache.ratis.protocol.RaftGroupMemberId.valueOf(server.getId(), groupId));
    io.micrometer.core.instrument.DistributionSummary linearBatches =
        io.micrometer.core.instrument.DistributionSummary.builder(
                "meridian.read.linearizable.batch")
            .description("Linearizable reads answered per read index this member fetched")
            .tags(tags)
            .register(metrics);
    this.linearReads =
        BatchQueue.leaderReads(
            this::readConfirmed, LEADER_READS_IN_FLIGHT, LEADER_READ_BATCH, linearBatches::record);
    this.proposals =
        BatchQueue.proposals(
            this::sendEntry,
            PROPOSALS_IN_FLIGHT,
            PROPOSAL_BATCH,
            PROPOSAL_BATCH_BYTES,
            writeBatches::record);
    metrics.gauge("meridian.propose.waiting", tags, proposals, BatchQueue::waiting);
    metrics.gauge("meridian.leases", tags, this, r -> r.read(s -> s.stats().leases()));
    metrics.gauge("meridian.lock.waiters", tags, this, r -> r.read(s -> s.stats().lockWaiters()));
    metrics.gauge("meridian.lock.holders", tags, this, r -> r.read(s -> s.stats().lockHolders()));
    metrics.gauge("meridian.revision", tags, this, r -> r.read(ShardState::revision));
    metrics.gauge("meridian.raft.applied.index", tags, this, r -> r.info().getLastAppliedIndex());
    metrics.gauge("meridian.raft.commit.index", tags, this, ShardReplica::commitIndex);
    metrics.gauge("meridian.state.bytes", tags, this, r -> r.read(s -> s.stats().stateBytes()));
    metrics.gauge("meridian.watch.watches", tags, this, r -> r.watchHub.watches());
    metrics.gauge(
        "meridian.registry.instances", tags, this, r -> r.read(ShardState::registryInstances));
    metrics.gauge(
        "meridian.registry.self.preservation",
        tags,
        this,
        r -> r.read(s -> s.selfPreservation() ? 1 : 0));
    metrics.gauge(
        "meridian.registry.renewal.ratio", tags, this, r -> r.selfPreservation.lastRatio());
    this.selfPreservation =
        new SelfPreservation(
            config.registry().selfPreservation(),
            config.registry().renewalThreshold(),
            config.registry().minInstances(),
            config.registry().checkIntervalMs());
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
    metrics.gauge("meridian.feed.feeds", tags, this, r -> r.changeFeed.feeds());
    stateMachine.setHooks(this);
    // Entries applied before the hooks were set moved the index without telling us.
    appliedIndex.advance(appliedIndexNow());
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

  /** This node's Raft view of the shard. */
  public DivisionInfo info() {
    try {
      return server.getDivision(groupId).getInfo();
    } catch (IOException e) {
      return null;
    }
  }

  public ShardStateMachine stateMachine() {
    return stateMachine;
  }

  /**
   * Takes a snapshot of this replica now; completes with its log index once it is written and Ratis
   * has recorded it (and purged its log up to it).
   */
  public CompletableFuture<Long> snapshot() {
    // The state freezes on the apply thread when Ratis asks for a snapshot; it is written in the
    // background, and recorded by Ratis the next time Ratis asks (ShardStateMachine.takeSnapshot).
    CompletableFuture<Long> written = stateMachine.snapshotWanted();
    return askRatisForSnapshot()
        .thenCompose(ignored -> written.orTimeout(SNAPSHOT_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        .thenCompose(index -> askRatisForSnapshot().thenApply(recorded -> index));
  }

  private static final long SNAPSHOT_TIMEOUT_MS = 30_000;

  private CompletableFuture<Long> askRatisForSnapshot() {
    try {
      return server
          .snapshotManagementAsync(
              org.apache.ratis.protocol.SnapshotManagementRequest.newCreate(
                  org.apache.ratis.protocol.ClientId.randomId(),
                  server.getId(),
                  groupId,
                  0,
                  SNAPSHOT_TIMEOUT_MS,
                  // On demand means now: Ratis's default gap (1,024 entries since the last
                  // snapshot) would not ask the state machine at all.
                  1))
          .thenApply(
              reply -> {
                if (!reply.isSuccess()) {
                  throw MeridianException.of(
                      Error.Code.UNAVAILABLE,
                      "shard %d: snapshot failed: %s",
                      spec.id(),
                      String.valueOf(reply.getException()));
                }
                return reply.getLogIndex();
              });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** The first index still in this node's Raft log (above 0 once a purge happened). */
  public long logStartIndex() {
    try {
      return server.getDivision(groupId).getRaftLog().getStartIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  /** The highest log index this node knows to be committed. */
  public long commitIndex() {
    try {
      return server.getDivision(groupId).getRaftLog().getLastCommittedIndex();
    } catch (IOException e) {
      return -1;
    }
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
   * without a request id was in flight: retry with backoff).
   *
   * <p>Writes that arrive while earlier ones are in flight go out together as one log entry ({@link
   * BatchQueue}); each is applied as if proposed alone.
   */
  public CompletableFuture<CommandResult> propose(Command command) {
    if (!writesInFlight.tryAcquire()) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: %d writes in flight on member %s; retry with backoff",
              spec.id(),
              MAX_WRITES_IN_FLIGHT,
              config.member()));
    }
    return proposals.submit(command).whenComplete((r, t) -> writesInFlight.release());
  }

  /**
   * Sends one log entry (a command or a batch): to this member's own Raft server while it leads,
   * else through the Raft client to the leader.
   */
  private CompletableFuture<CommandResult> sendEntry(Command entry) {
    return sendEntry(entry, LEADER_NOT_READY_ATTEMPTS);
  }

  private CompletableFuture<CommandResult> sendEntry(Command entry, int attemptsLeft) {
    if (leadingNow()) {
      return submitLocally(entry, attemptsLeft);
    }
    return forward(entry);
  }

  private CompletableFuture<CommandResult> submitLocally(Command entry, int attemptsLeft) {
    return submitHere(
            localWrites,
            RatisMessages.toMessage(entry),
            org.apache.ratis.protocol.RaftClientRequest.writeRequestType())
        .thenCompose(
            reply -> {
              if (reply.isSuccess()) {
                return CompletableFuture.completedFuture(parse(reply, CommandResult.parser()));
              }
              Throwable refused = reply.getException();
              if (refused instanceof org.apache.ratis.protocol.exceptions.LeaderNotReadyException
                  && attemptsLeft > 1) {
                // Not appended: this leader has not committed its term's first entry yet.
                return CompletableFuture.supplyAsync(
                        () -> null, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS))
                    .thenCompose(ignored -> sendEntry(entry, attemptsLeft - 1));
              }
              if (refused instanceof org.apache.ratis.protocol.exceptions.NotLeaderException) {
                return afterLeadershipMoved(entry);
              }
              throw unavailable(refused);
            });
  }

  /**
   * A local submission answered "not leader": refused on arrival, or appended and then dropped from
   * the pending requests when this member stepped down, so it may still commit under the next
   * leader. Only writes whose request ids make a second apply a no-op (the dedup table answers with
   * the first outcome) are resent; the others are answered UNAVAILABLE, as etcd answers "leader
   * changed", rather than risk applying them twice.
   */
  private CompletableFuture<CommandResult> afterLeadershipMoved(Command entry) {
    List<Command> commands = entry.hasBatch() ? entry.getBatch().getCommandsList() : List.of(entry);
    if (commands.stream().noneMatch(c -> c.getRequestId().isEmpty())) {
      return forward(entry);
    }
    throw MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard %d: leadership moved from member %s while the write was in flight; it may or may"
            + " not have been applied (writes with a request_id are retried safely)",
        spec.id(),
        config.member());
  }

  /** Sends an entry through the Raft client, which finds the leader and retries for us. */
  private CompletableFuture<CommandResult> forward(Command entry) {
    RaftClient raft = client.get();
    CompletableFuture<org.apache.ratis.protocol.RaftClientReply> sent;
    try {
      sent = raft.async().send(RatisMessages.toMessage(entry));
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.whenComplete(
            (reply, t) -> {
              if (t != null) {
                replaceIfClosed(client, raft, t);
              }
            })
        .thenApply(reply -> parse(reply, CommandResult.parser()));
  }

  /**
   * Proposes a leader duty's command to this member's own Raft server while it leads {@code term}:
   * submitted once, never resent to another leader (a deposed leader's expiry appended in its
   * successor's term could revoke a lease renewed since, etcd #15247). A leader whose first entry
   * of the term is not committed yet is waited for, as long as it still leads {@code term}.
   * Completes with the command's result, or fails with UNAVAILABLE.
   */
  CompletableFuture<CommandResult> proposeAsLeader(Command command, long term) {
    return submitAsLeader(RatisMessages.toMessage(command), term, LEADER_NOT_READY_ATTEMPTS)
        .thenApply(reply -> parse(reply, CommandResult.parser()))
        .exceptionally(
            t -> {
              throw unavailable(t);
            });
  }

  // 100 attempts 50 ms apart: a new leader commits its first entry well within 5 s.
  private static final int LEADER_NOT_READY_ATTEMPTS = 100;

  private CompletableFuture<RaftClientReply> submitAsLeader(
      org.apache.ratis.protocol.Message message, long term, int attemptsLeft) {
    DivisionInfo info = info();
    if (info == null || !info.isLeader() || info.getCurrentTerm() != term) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: member %s no longer leads term %d; its duty was dropped",
              spec.id(),
              config.member(),
              term));
    }
    return submitHere(
            localDuties, message, org.apache.ratis.protocol.RaftClientRequest.writeRequestType())
        .thenCompose(
            reply -> {
              if (reply.isSuccess()
                  || !(reply.getException()
                      instanceof org.apache.ratis.protocol.exceptions.LeaderNotReadyException)
                  || attemptsLeft <= 1) {
                return CompletableFuture.completedFuture(reply);
              }
              return CompletableFuture.supplyAsync(
                      () -> null, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS))
                  .thenCompose(ignored -> submitAsLeader(message, term, attemptsLeft - 1));
            });
  }

  /** Swaps in a new Raft client when {@code failed} was closed under us (once per client). */
  private void replaceIfClosed(AtomicReference<RaftClient> holder, RaftClient failed, Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof org.apache.ratis.protocol.exceptions.AlreadyClosedException) {
        RaftClient fresh = newClient.get();
        if (holder.compareAndSet(failed, fresh)) {
          log.warn(
              "shard={} region={} member={} Raft client was closed ({}); replaced it",
              spec.id(),
              config.region(),
              config.member(),
              c.getMessage());
          try {
            failed.close();
          } catch (IOException | RuntimeException e) {
            log.debug("closing the old Raft client", e);
          }
        } else {
          try {
            fresh.close();
          } catch (IOException | RuntimeException e) {
            log.debug("closing an unused Raft client", e);
          }
        }
        return;
      }
    }
  }

  /**
   * Closes the current Raft client for writes, as Ratis does after a request ran out of retries
   * (tests).
   */
  void closeRaftClientForTest() throws IOException {
    client.get().close();
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
    return retryUnavailable(() -> linearReads.submit(query), 50);
  }

  /** Fetches a read index, waits to have applied it, then answers {@code query} (or a batch). */
  private CompletableFuture<QueryResult> readConfirmed(Query query) {
    return sendToLeader(Query.newBuilder().setReadIndex(ReadIndex.getDefaultInstance()).build())
        .thenCompose(
            index -> {
              if (index.hasError()) {
                return CompletableFuture.completedFuture(index);
              }
              return appliedIndex
                  .await(index.getReadIndex())
                  .orTimeout(READ_CONFIRM_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                  // Off the apply thread, which completes the wait.
                  .thenApplyAsync(applied -> answerConfirmed(query), localReadThreads)
                  .exceptionally(
                      t ->
                          notReady(
                              "member "
                                  + config.member()
                                  + " did not apply the read index "
                                  + index.getReadIndex()
                                  + " within "
                                  + READ_CONFIRM_TIMEOUT_MS
                                  + " ms"));
            });
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
      read(ShardState::requirePrimary);
    } catch (MeridianException e) {
      return QueryResult.newBuilder().setError(e.toError()).build();
    }
    return readLocal(query);
  }

  /** This member leads the shard now, as far as its Raft server knows. */
  private boolean leadingNow() {
    DivisionInfo info = info();
    return info != null && info.isLeader();
  }

  /**
   * Submits a read to this member's own Raft server, as any client's read is answered, without a
   * loopback connection whose failure handling would drop every read on it.
   *
   * <p>Both ends run on {@link #localReadThreads}, as the gRPC server's executor would: submitting
   * blocks until Raft accepts the request, and reads are completed on Ratis's threads (the apply
   * thread, for a confirmed read), where a continuation (the next batch, say) must not run.
   */
  private CompletableFuture<RaftClientReply> readHere(org.apache.ratis.protocol.Message message) {
    return submitHere(
        localReads, message, org.apache.ratis.protocol.RaftClientRequest.readRequestType());
  }

  private CompletableFuture<RaftClientReply> submitHere(
      org.apache.ratis.protocol.ClientId clientId,
      org.apache.ratis.protocol.Message message,
      org.apache.ratis.protocol.RaftClientRequest.Type type) {
    org.apache.ratis.protocol.RaftClientRequest request =
        org.apache.ratis.protocol.RaftClientRequest.newBuilder()
            .setClientId(clientId)
            .setServerId(server.getId())
            .setGroupId(groupId)
            .setCallId(localCallIds.incrementAndGet())
            .setMessage(message)
            .setType(type)
            .build();
    return CompletableFuture.supplyAsync(
            () -> {
              try {
                return server.submitClientRequestAsync(request);
              } catch (IOException e) {
                throw new CompletionException(e);
              }
            },
            localReadThreads)
        .thenCompose(reply -> reply.whenCompleteAsync((r, t) -> {}, localReadThreads));
  }

  /**
   * Sends a read through the read client: to {@code member}, or where the client sees the leader.
   */
  private CompletableFuture<RaftClientReply> readThere(
      org.apache.ratis.protocol.Message message, RaftPeerId member) {
    RaftClient raft = readClient.get();
    CompletableFuture<RaftClientReply> sent =
        member == null
            ? raft.async().sendReadOnlyUnordered(message)
            : raft.async().sendReadOnlyUnordered(message, member);
    return sent.whenComplete(
        (r, t) -> {
          if (t != null) {
            replaceIfClosed(readClient, raft, t);
          }
        });
  }

  /**
   * A read the leader itself must answer (lease keep-alives and remaining TTLs live in its memory):
   * sent to the leader this node sees, answered once its leadership is confirmed, in a batch with
   * the other leader reads this member has waiting ({@link LeaderReadQueue}). While leadership
   * moves, a follower or a leader that has not started its term refuses with {@code UNAVAILABLE};
   * the read is retried every 100 ms for up to about 5 s.
   */
  public CompletableFuture<QueryResult> readAtLeader(Query query) {
    return readAtLeader(query, 50);
  }

  /** One attempt at a leader read (or a batch of them); failures come back as error results. */
  private CompletableFuture<QueryResult> sendToLeader(Query query) {
    DivisionInfo info = info();
    RaftPeerId leader = info == null ? null : info.getLeaderId();
    if (leader == null) {
      return CompletableFuture.completedFuture(notReady("no leader known yet"));
    }
    org.apache.ratis.protocol.Message message = RatisMessages.toMessage(query);
    CompletableFuture<RaftClientReply> reply;
    if (leader.equals(server.getId())) {
      reply = readHere(message);
    } else {
      reply = readThere(message, leader);
    }
    return reply
        .thenApply(r -> parse(r, QueryResult.parser()))
        .exceptionally(
            t ->
                timedOut(t)
                    ? overloaded(String.valueOf(t.getMessage()))
                    : notReady(String.valueOf(t.getMessage())));
  }

  private CompletableFuture<QueryResult> readAtLeader(Query query, int attemptsLeft) {
    return retryUnavailable(() -> leaderReads.submit(query), attemptsLeft);
  }

  /** Retries an UNAVAILABLE answer (not an overloaded one) every 100 ms, {@code attempts} times. */
  private static CompletableFuture<QueryResult> retryUnavailable(
      Supplier<CompletableFuture<QueryResult>> attempt, int attemptsLeft) {
    return attempt
        .get()
        .thenCompose(
            result -> {
              boolean retry =
                  result.hasError()
                      && result.getError().getCode() == Error.Code.UNAVAILABLE
                      && !result.getError().containsDetails(OVERLOADED)
                      && attemptsLeft > 1;
              if (!retry) {
                return CompletableFuture.completedFuture(result);
              }
              return CompletableFuture.supplyAsync(
                      () -> null, CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS))
                  .thenCompose(ignored -> retryUnavailable(attempt, attemptsLeft - 1));
            });
  }

  private static final String OVERLOADED = "overloaded";

  private static boolean timedOut(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof org.apache.ratis.protocol.exceptions.TimeoutIOException
          || c instanceof java.util.concurrent.TimeoutException) {
        return true;
      }
    }
    return false;
  }

  /**
   * A read the leader did not answer in time: not retried here, since retrying a slow leader is how
   * an overload snowballs into lost leadership. The caller backs off and retries.
   */
  private static QueryResult overloaded(String why) {
    return QueryResult.newBuilder()
        .setError(
            new MeridianException(
                    Error.Code.UNAVAILABLE,
                    "shard leader did not answer in time, retry with backoff: " + why,
                    Map.of(OVERLOADED, "true"))
                .toError())
        .build();
  }

  private static QueryResult notReady(String why) {
    return QueryResult.newBuilder()
        .setError(
            MeridianException.of(Error.Code.UNAVAILABLE, "shard leader unavailable, retry: %s", why)
                .toError())
        .build();
  }

  private static <T> T parse(RaftClientReply reply, com.google.protobuf.Parser<T> parser) {
    if (!reply.isSuccess()) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "shard unavailable: %s", String.valueOf(reply.getException()));
    }
    try {
      return RatisMessages.parse(parser, reply.getMessage());
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw MeridianException.of(Error.Code.INTERNAL, "malformed reply: %s", e.getMessage());
    }
  }

  private static MeridianException unavailable(Throwable t) {
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof MeridianException m) {
      return m;
    }
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard unavailable (no leader reachable, retry): %s",
        cause.getClass().getSimpleName() + ": " + cause.getMessage());
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
      Role role = stateMachine.read(ShardState::role);
      for (ApplyResult.Committed c : result.committed()) {
        watchHub.applied(c.batch().getRevision(), c.batch().getEpoch(), role, c.changes());
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
                new LeaderState.StateView() {
                  @Override
                  public <T> T read(Function<ShardState, T> reader) {
                    return stateMachine.read(reader);
                  }
                },
                leaseClock,
                selfPreservation,
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
      // A promotion: clients renewed with the old primary, so every lease gets its full TTL.
      List<LeaseView> leases = stateMachine.read(s -> s.leases(""));
      leaseClock.extendAll(leases);
      log.info(
          "shard={} region={} member={} promoted to PRIMARY at epoch {}: {} leases extended by"
              + " their TTL, revision={}",
          spec.id(),
          config.region(),
          config.member(),
          command.getSetRole().getEpoch(),
          leases.size(),
          result.revision());
    }
  }

  @Override
  public void onIndexApplied(long index) {
    appliedIndex.advance(index);
  }

  @Override
  public void onStateReloaded() {
    appliedIndex.advance(appliedIndexNow());
    lockWaits.reloaded(read(ShardState::revision));
    watchHub.reloaded();
    changeFeed.committed();
  }

  @Override
  public void onLeaderChanged(RaftPeerId leader, boolean self) {
    selfPreservation.restart();
    // A new term's duties start once its first entry is applied (onApplied).
    this.leader = null;
    if (!self) {
      leaseClock.follow();
      readBarriers.lost();
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
    metrics.counter("meridian.leader.changes", "shard", Integer.toString(spec.id())).increment();
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
          notReady("member " + config.member() + " does not lead shard " + spec.id()));
    }
    return confirmLeadership(info.getCurrentTerm())
        .thenCompose(index -> appliedIndex.await(index).thenApply(applied -> index))
        // Off the apply thread, which confirms reads: answering a batch there would stall applies.
        .thenComposeAsync(
            index ->
                query.hasReadIndex()
                    ? CompletableFuture.completedFuture(
                        QueryResult.newBuilder().setReadIndex(index).build())
                    : answer(query),
            localReadThreads)
        .exceptionally(t -> QueryResult.newBuilder().setError(unavailable(t).toError()).build());
  }

  /**
   * Confirms that this member still leads {@code term} for a read arriving now; completes with the
   * read index: a log index that covers every write completed before the read arrived, to be
   * applied before the read is answered.
   *
   * <p>Once the term's first entry is applied and the configuration is stable, one round of append
   * requests answered by a majority confirms it ({@link HeartbeatAcks}), and the read index is the
   * commit index at arrival. Before that (a new leader's commit index may lag its predecessor's
   * acknowledged writes) or during a membership change, a no-op entry confirms it ({@link
   * ReadBarriers}), and the read index is what was applied once the entry was.
   */
  private CompletableFuture<Long> confirmLeadership(long term) {
    RaftConfiguration conf;
    try {
      conf = server.getDivision(groupId).getRaftConf();
    } catch (IOException e) {
      conf = null;
    }
    if (conf != null && conf.getPreviousPeers().isEmpty() && leadingTerm() == term) {
      long since = heartbeats.now();
      long commit = commitIndex();
      java.util.Set<RaftPeerId> voters = new java.util.HashSet<>();
      conf.getCurrentPeers().forEach(p -> voters.add(p.getId()));
      return ReadBarriers.withinTimeout(
              heartbeats.confirm(since, voters, server.getId()), term, READ_CONFIRM_TIMEOUT_MS)
          .thenApply(confirmed -> commit);
    }
    return readBarriers.confirm(term, lastLogIndex()).thenApply(confirmed -> appliedIndexNow());
  }

  /**
   * The index of the last entry in this member's Raft log (appended, not necessarily committed).
   */
  private long lastLogIndex() {
    try {
      var last = server.getDivision(groupId).getRaftLog().getLastEntryTermIndex();
      return last == null ? -1 : last.getIndex();
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "shard %d: Raft log unavailable: %s", spec.id(), e.getMessage());
    }
  }

  /** How long a read waits for a majority to confirm this member's leadership. */
  static final long READ_CONFIRM_TIMEOUT_MS = 3_000;

  private CompletableFuture<CommandResult> proposeReadBarrier(long term) {
    return proposeAsLeader(
        Command.newBuilder().setReadBarrier(ReadBarrier.getDefaultInstance()).build(), term);
  }

  /** The index of the last entry this member applied. */
  private long appliedIndexNow() {
    var last = stateMachine.getLastAppliedTermIndex();
    return last == null ? -1 : last.getIndex();
  }

  /** Answers a read once this member's leadership was confirmed after it arrived. */
  private CompletableFuture<QueryResult> answer(Query query) {
    try {
      return switch (query.getQCase()) {
        case LEASE_RENEW -> renew(query.getLeaseRenew().getId());
        case REGISTRY_HEARTBEAT -> heartbeat(query.getRegistryHeartbeat());
        case LEASE_TTL ->
            CompletableFuture.completedFuture(
                timeToLive(query.getLeaseTtl().getId(), query.getLeaseTtl().getKeys()));
        case BATCH -> batch(query);
        default -> {
          read(ShardState::requirePrimary);
          yield CompletableFuture.completedFuture(readLocal(query));
        }
      };
    } catch (MeridianException e) {
      return CompletableFuture.completedFuture(
          QueryResult.newBuilder().setError(e.toError()).build());
    }
  }

  private CompletableFuture<QueryResult> batch(Query query) {
    List<CompletableFuture<QueryResult>> parts = new java.util.ArrayList<>();
    for (Query q : query.getBatch().getQueriesList()) {
      parts.add(
          q.hasBatch()
              ? CompletableFuture.completedFuture(
                  QueryResult.newBuilder()
                      .setError(
                          MeridianException.of(
                                  Error.Code.INVALID_ARGUMENT, "a batch holds no batch")
                              .toError())
                      .build())
              : answer(q));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .thenApply(
            v -> {
              QueryResultBatch.Builder b = QueryResultBatch.newBuilder();
              parts.forEach(p -> b.addResults(p.join()));
              return QueryResult.newBuilder().setBatch(b).build();
            });
  }

  /**
   * A read of this replica's applied state at whatever revision it has applied (SERIALIZABLE,
   * LOCAL), or once leadership is confirmed (LINEARIZABLE, through {@link #query}).
   */
  public QueryResult readLocal(Query query) {
    try {
      QueryResult.Builder b = QueryResult.newBuilder();
      return switch (query.getQCase()) {
        case RANGE -> {
          io.meridian.api.v1.RangeResponse range = read(s -> s.range(query.getRange()));
          yield b.setRange(range).build();
        }
        case LEASE_LIST -> b.setLeaseList(leaseList(query.getLeaseList().getNamespace())).build();
        case LOCK_INSPECT -> {
          io.meridian.api.v1.LockInspectResponse inspect =
              read(s -> s.inspectLock(query.getLockInspect().getName()));
          yield b.setLockInspect(inspect).build();
        }
        case REGISTRY_DISCOVER -> {
          DiscoverResponse found = read(s -> s.discover(query.getRegistryDiscover()));
          yield b.setRegistryDiscover(found).build();
        }
        case REGISTRY_LIST -> {
          ListServicesResponse list =
              read(s -> s.listServices(query.getRegistryList().getNamespace()));
          yield b.setRegistryList(list).build();
        }
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

  /**
   * Refuses a leader read unless this member leads a PRIMARY cluster and has taken over its term's
   * leases: a standby or fenced cluster must not keep a session alive that its primary expires.
   */
  private void checkLeaseLeader(long id) {
    read(ShardState::requirePrimary);
    if (leadingTerm() < 0) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "lease %d: this member is not the ready leader, retry", id);
    }
  }

  /**
   * A keep-alive. A lease past its deadline is not renewed (the expiry may be under way) unless
   * self-preservation keeps it. The first keep-alive after a checkpoint is answered once the
   * lease's checkpointed remainder is cleared, so a new leader grants it at least its TTL.
   */
  private CompletableFuture<QueryResult> renew(long id) {
    checkLeaseLeader(id);
    OptionalLong ttl = leaseClock.renew(id, false);
    if (ttl.isEmpty() && read(s -> s.selfPreservation() && s.preservable(id))) {
      ttl = leaseClock.renew(id, true);
    }
    if (ttl.isEmpty()) {
      throw MeridianException.of(Error.Code.LEASE_NOT_FOUND, "lease %d: not found or expired", id);
    }
    long[] facts = read(s -> new long[] {s.registryInstancesOf(id), s.checkpointedRemainder(id)});
    selfPreservation.renewed((int) facts[0]);
    QueryResult renewed =
        QueryResult.newBuilder()
            .setLeaseRenew(
                LeaseKeepAliveResponse.newBuilder()
                    .setId(id)
                    .setTtl(ttl.getAsLong() / 1000)
                    .setHeader(stateHeader()))
            .build();
    if (facts[1] == 0) {
      return CompletableFuture.completedFuture(renewed);
    }
    return remainderClears
        .clear(id)
        .handle(
            (v, t) ->
                t == null
                    ? renewed
                    : QueryResult.newBuilder()
                        .setError(
                            MeridianException.of(
                                    Error.Code.UNAVAILABLE,
                                    "lease %d: the renewal could not be recorded, retry: %s",
                                    id,
                                    t.getMessage())
                                .toError())
                        .build());
  }

  /** Proposes a checkpoint that clears the remainders of {@code ids} (see {@link #renew}). */
  private CompletableFuture<CommandResult> clearRemainders(List<Long> ids) {
    long term = leaseClock.term();
    LeaseCheckpoint.Builder b =
        LeaseCheckpoint.newBuilder().setProposerTerm(term).setLeader(config.member());
    ids.forEach(id -> b.addLeases(LeaseCheckpoint.Remaining.newBuilder().setId(id)));
    return proposeAsLeader(Command.newBuilder().setLeaseCheckpoint(b).build(), term)
        .thenApply(
            r -> {
              if (r.hasError()) {
                throw MeridianException.fromError(r.getError());
              }
              return r;
            });
  }

  /** A registry heartbeat: a keep-alive of the instance's lease, counted for self-preservation. */
  private CompletableFuture<QueryResult> heartbeat(HeartbeatRequest request) {
    read(ShardState::requirePrimary);
    Instance instance =
        read(s -> s.instance(request.getNamespace(), request.getService(), request.getInstanceId()))
            .orElseThrow(
                () ->
                    MeridianException.of(
                        Error.Code.NOT_FOUND,
                        "instance %s/%s/%s: not registered (evicted or deregistered: register it"
                            + " again)",
                        request.getNamespace(),
                        request.getService(),
                        request.getInstanceId()));
    return renew(instance.getLease())
        .thenApply(
            r -> {
              if (r.hasError()) {
                return r;
              }
              LeaseKeepAliveResponse renewed = r.getLeaseRenew();
              return QueryResult.newBuilder()
                  .setRegistryHeartbeat(
                      HeartbeatResponse.newBuilder()
                          .setHeader(renewed.getHeader())
                          .setLease(instance.getLease())
                          .setTtl(renewed.getTtl())
                          .setSelfPreservation(read(ShardState::selfPreservation)))
                  .build();
            });
  }

  private QueryResult timeToLive(long id, boolean keys) {
    checkLeaseLeader(id);
    LeaseView lease =
        read(s -> s.lease(id))
            .orElseThrow(
                () -> MeridianException.of(Error.Code.LEASE_NOT_FOUND, "lease %d: not found", id));
    long remainingMs =
        leaseClock
            .remaining(id)
            .orElse(lease.remainingMs() > 0 ? lease.remainingMs() : lease.ttlMs());
    LeaseTimeToLiveResponse.Builder b =
        LeaseTimeToLiveResponse.newBuilder()
            .setHeader(stateHeader())
            .setId(id)
            .setTtl((remainingMs + 999) / 1000)
            .setGrantedTtl(lease.ttlMs() / 1000)
            .setNamespace(lease.namespace());
    if (keys) {
      b.addAllKeys(lease.keys());
    }
    return QueryResult.newBuilder().setLeaseTtl(b).build();
  }

  private LeaseListResponse leaseList(String namespace) {
    List<LeaseView> leases = read(s -> s.leases(namespace));
    LeaseListResponse.Builder b = LeaseListResponse.newBuilder().setHeader(stateHeader());
    for (LeaseView l : leases) {
      b.addLeases(
          LeaseStatus.newBuilder()
              .setId(l.id())
              .setNamespace(l.namespace())
              .setGrantedTtl(l.ttlMs() / 1000));
    }
    return b.build();
  }

  private ResponseHeader stateHeader() {
    return read(
        s ->
            ResponseHeader.newBuilder()
                .setShard(s.shard())
                .setRevision(s.revision())
                .setEpoch(s.epoch())
                .setRole(s.role())
                .build());
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
      stepDownIfCutOff(info);
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
   * A leader that has heard from no majority of voters for longer than the longest election timeout
   * steps down: the others may have elected a new leader by then, its writes cannot commit, and its
   * watches would go stale without failing. Ratis 3.3.0 checks this itself only while its leader's
   * event queue is idle, which it never is while the leader takes writes (decision 0012).
   */
  private void stepDownIfCutOff(DivisionInfo info) {
    org.apache.ratis.proto.RaftProtos.RoleInfoProto role = info.getRoleInfoProto();
    long timeoutMs = config.raft().electionTimeoutMaxMs();
    if (steppingDown || !role.hasLeaderInfo() || role.getRoleElapsedTimeMs() < timeoutMs) {
      return;
    }
    java.util.Collection<org.apache.ratis.protocol.RaftPeer> voters;
    try {
      voters = server.getDivision(groupId).getRaftConf().getCurrentPeers();
    } catch (IOException e) {
      return;
    }
    java.util.Set<String> voterIds = new java.util.HashSet<>();
    voters.forEach(v -> voterIds.add(v.getId().toString()));
    long heard = voterIds.contains(config.member()) ? 1 : 0;
    for (var follower : role.getLeaderInfo().getFollowerInfoList()) {
      if (voterIds.contains(follower.getId().getId().toStringUtf8())
          && follower.getLastRpcElapsedTimeMs() <= timeoutMs) {
        heard++;
      }
    }
    if (heard * 2 > voterIds.size()) {
      return;
    }
    log.warn(
        "shard={} region={} member={} term={} heard from {} of {} voters within {} ms: stepping"
            + " down",
        spec.id(),
        config.region(),
        config.member(),
        info.getCurrentTerm(),
        heard,
        voterIds.size(),
        timeoutMs);
    steppingDown = true;
    try {
      server
          .transferLeadershipAsync(
              new org.apache.ratis.protocol.TransferLeadershipRequest(
                  localDuties, server.getId(), groupId, localCallIds.incrementAndGet(), null, 3000))
          .whenComplete((r, t) -> steppingDown = false);
    } catch (IOException | RuntimeException e) {
      steppingDown = false;
      log.warn("shard={} step-down failed: {}", spec.id(), e.toString());
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
                } else if (t != null && !command.hasLeaseCheckpoint()) {
                  log.debug("shard={} leader duty not committed: {}", spec.id(), t.toString());
                }
              });
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
    client.get().close();
    readClient.get().close();
    localReadThreads.shutdownNow();
    io.meridian.cluster.raft.HeartbeatAcks.forget(
        org.apache.ratis.protocol.RaftGroupMemberId.valueOf(server.getId(), groupId));
  }
}
