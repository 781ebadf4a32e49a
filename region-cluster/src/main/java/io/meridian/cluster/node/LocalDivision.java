package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.raft.HeartbeatAcks;
import io.meridian.cluster.raft.ShardStateMachine;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What this member asks of its own Ratis division besides proposals and reads: the bounds of its
 * log, snapshots on demand, and stepping down when a leader is cut off from its voters.
 */
final class LocalDivision {
  private static final Logger log = LoggerFactory.getLogger(LocalDivision.class);

  private final int shard;
  private final String region;
  private final String member;
  private final long electionTimeoutMaxMs;
  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftCalls raft;
  private final ShardStateMachine stateMachine;
  // A step-down this member asked of Raft is under way.
  private volatile boolean steppingDown;

  LocalDivision(
      int shard,
      String region,
      String member,
      long electionTimeoutMaxMs,
      RaftCalls raft,
      ShardStateMachine stateMachine) {
    this.shard = shard;
    this.region = region;
    this.member = member;
    this.electionTimeoutMaxMs = electionTimeoutMaxMs;
    this.raft = raft;
    this.server = raft.server();
    this.groupId = raft.groupId();
    this.stateMachine = stateMachine;
  }

  /**
   * Confirms that this member still leads {@code term} ({@code termStarted}: its first entry is
   * applied) for a read arriving now; completes with the read index: a log index that covers every
   * write completed before the read arrived, to be applied before the read is answered.
   *
   * <p>Once the term's first entry is applied and the configuration is stable, one round of append
   * requests answered by a majority confirms it ({@link HeartbeatAcks}), and the read index is the
   * commit index at arrival. Before that (a new leader's commit index may lag its predecessor's
   * acknowledged writes) or during a membership change, a no-op entry confirms it ({@link
   * ReadBarriers}), and the read index is what was applied once the entry was.
   */
  CompletableFuture<Long> confirmLeadership(
      long term, boolean termStarted, HeartbeatAcks heartbeats, ReadBarriers readBarriers) {
    RaftConfiguration conf;
    try {
      conf = server.getDivision(groupId).getRaftConf();
    } catch (IOException e) {
      conf = null;
    }
    if (conf != null && conf.getPreviousPeers().isEmpty() && termStarted) {
      long since = heartbeats.now();
      long commit = commitIndex();
      java.util.Set<RaftPeerId> voters = new java.util.HashSet<>();
      conf.getCurrentPeers().forEach(p -> voters.add(p.getId()));
      return ReadBarriers.withinTimeout(
              heartbeats.confirm(term, since, voters, server.getId()),
              term,
              ShardReplica.READ_CONFIRM_TIMEOUT_MS)
          .thenApply(confirmed -> commit);
    }
    return readBarriers.confirm(term, lastLogIndex()).thenApply(confirmed -> appliedIndex());
  }

  /** The index of the last entry this member applied. */
  long appliedIndex() {
    var last = stateMachine.getLastAppliedTermIndex();
    return last == null ? -1 : last.getIndex();
  }

  /**
   * Takes a snapshot of this replica now; completes with its log index once it is written and Ratis
   * has recorded it (and purged its log up to it).
   */
  CompletableFuture<Long> snapshot() {
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
                      shard,
                      String.valueOf(reply.getException()));
                }
                return reply.getLogIndex();
              });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Hands this shard's leadership to voter {@code to}, from this member, which must lead it;
   * completes once {@code to} leads, or fails: NOT_FOUND for a member that is not a voter of the
   * shard, UNAVAILABLE when this member does not lead it or {@code to} did not take over within
   * {@code timeoutMs}.
   */
  CompletableFuture<Void> transferLeadership(String to, long timeoutMs) {
    try {
      var division = server.getDivision(groupId);
      java.util.List<String> voters = new java.util.ArrayList<>();
      division.getRaftConf().getCurrentPeers().forEach(p -> voters.add(p.getId().toString()));
      if (!voters.contains(to)) {
        throw MeridianException.of(
            Error.Code.NOT_FOUND,
            "to: %s is not a voter of shard %d in %s (voters: %s)",
            to,
            shard,
            region,
            voters);
      }
      if (!division.getInfo().isLeader()) {
        RaftPeerId leader = division.getInfo().getLeaderId();
        throw MeridianException.of(
            Error.Code.UNAVAILABLE,
            "member %s does not lead shard %d in %s (%s does): ask the leader",
            member,
            shard,
            region,
            leader == null ? "no member" : leader);
      }
      if (to.equals(member)) {
        return CompletableFuture.completedFuture(null);
      }
      return server
          .transferLeadershipAsync(
              new org.apache.ratis.protocol.TransferLeadershipRequest(
                  org.apache.ratis.protocol.ClientId.randomId(),
                  server.getId(),
                  groupId,
                  0,
                  RaftPeerId.valueOf(to),
                  timeoutMs))
          .thenApply(
              reply -> {
                if (!reply.isSuccess()) {
                  throw MeridianException.of(
                      Error.Code.UNAVAILABLE,
                      "shard %d in %s: leadership did not move to %s: %s",
                      shard,
                      region,
                      to,
                      String.valueOf(reply.getException()));
                }
                return null;
              });
    } catch (IOException e) {
      return CompletableFuture.failedFuture(
          MeridianException.of(Error.Code.UNAVAILABLE, "shard %d: %s", shard, e.getMessage()));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** The first index still in this node's Raft log (above 0 once a purge happened). */
  long logStartIndex() {
    try {
      return server.getDivision(groupId).getRaftLog().getStartIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  /** The highest log index this node knows to be committed. */
  long commitIndex() {
    try {
      return server.getDivision(groupId).getRaftLog().getLastCommittedIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * The index of the last entry in this member's Raft log (appended, not necessarily committed).
   */
  long lastLogIndex() {
    try {
      var last = server.getDivision(groupId).getRaftLog().getLastEntryTermIndex();
      return last == null ? -1 : last.getIndex();
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "shard %d: Raft log unavailable: %s", shard, e.getMessage());
    }
  }

  /**
   * A leader that has heard from no majority of voters for longer than the longest election timeout
   * steps down: the others may have elected a new leader by then, its writes cannot commit, and its
   * watches would go stale without failing. Ratis 3.3.0 checks this itself only while its leader's
   * event queue is idle, which it never is while the leader takes writes (decision 0012).
   *
   * <p>A new leader is first checked after two timeouts: its followers answer its first append only
   * once they have written its entries, which on a busy 2-core machine took longer than one 300 ms
   * timeout, and the new leader stepped down before anyone could write to it.
   */
  void stepDownIfCutOff(DivisionInfo info, ClientId as) {
    org.apache.ratis.proto.RaftProtos.RoleInfoProto role = info.getRoleInfoProto();
    long timeoutMs = electionTimeoutMaxMs;
    if (steppingDown || !role.hasLeaderInfo() || role.getRoleElapsedTimeMs() < 2 * timeoutMs) {
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
    long heard = voterIds.contains(member) ? 1 : 0;
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
        shard,
        region,
        member,
        info.getCurrentTerm(),
        heard,
        voterIds.size(),
        timeoutMs);
    steppingDown = true;
    try {
      server
          .transferLeadershipAsync(
              new org.apache.ratis.protocol.TransferLeadershipRequest(
                  as, server.getId(), groupId, raft.nextCallId(), null, 3000))
          .whenComplete((r, t) -> steppingDown = false);
    } catch (IOException | RuntimeException e) {
      steppingDown = false;
      log.warn("shard={} step-down failed: {}", shard, e.toString());
    }
  }
}
