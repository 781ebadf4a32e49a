package io.meridian.cluster.raft;

import java.lang.reflect.Field;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.ratis.grpc.server.GrpcLogAppender;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.leader.FollowerInfo;
import org.apache.ratis.server.leader.LeaderState;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.raftlog.RaftLogIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ratis's gRPC log appender, corrected for a follower that lacks entries the leader believes it has
 * (RATIS-2523, unfixed in 3.3.0): the stock appender never moves {@code nextIndex} below its {@code
 * matchIndex + 1}, so when such a follower answers a heartbeat with INCONSISTENCY and a lower hint,
 * the leader sends the same heartbeat again, forever (every 5 s once its retry policy backs off),
 * and the follower never catches up while no write comes.
 *
 * <p>The correction trusts the follower's hint on a heartbeat's INCONSISTENCY reply: the leader's
 * match index for it is lowered to {@code hint - 1} and replication resumes at the hint. Lowering a
 * match index never lowers the commit index; a false alarm only costs a resend. Replies to real
 * appends keep the stock logic, where a hint at or below the match index can be legitimate.
 *
 * <p>It also sends a follower a new commit index soon (see {@link #getHeartbeatWaitTimeMs}), and
 * does not miss a wake-up that comes while it is busy ({@link WakeupSignal}).
 *
 * <p>Ratis exposes no way to lower a follower's match index, so the field is reached by reflection,
 * once, at construction: a Ratis release that changes it fails the node at start instead of
 * silently running uncorrected.
 */
final class ResyncingLogAppender extends GrpcLogAppender {
  private static final Logger log = LoggerFactory.getLogger(ResyncingLogAppender.class);
  // (follower, hint) pairs already logged, so a flapping follower does not flood the log.
  private static final Set<String> logged = ConcurrentHashMap.newKeySet();

  private final RaftLogIndex matchIndex;
  private final WakeupSignal wakeup;

  ResyncingLogAppender(RaftServer.Division server, LeaderState leaderState, FollowerInfo follower) {
    // The leader state is observed for HeartbeatAcks, which confirms reads with append rounds.
    super(
        server,
        HeartbeatAcks.of(server.getMemberId())
            .observe(leaderState, follower.getId(), server.getId()),
        follower);
    this.matchIndex = matchIndexOf(follower);
    this.wakeup = new WakeupSignal(this);
    HeartbeatAcks.of(server.getMemberId()).register(follower.getId(), this);
  }

  private static RaftLogIndex matchIndexOf(FollowerInfo follower) {
    try {
      Field field = follower.getClass().getDeclaredField("matchIndex");
      field.setAccessible(true);
      return (RaftLogIndex) field.get(follower);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "Ratis's FollowerInfo has no matchIndex field of type RaftLogIndex: this Ratis release"
              + " needs its RATIS-2523 correction reviewed (ResyncingLogAppender)",
          e);
    }
  }

  /**
   * How long a new commit index may wait for the next append to carry it before a heartbeat does.
   * Under load the next write's append carries it well within this; an idle follower learns it this
   * late at most.
   */
  static final long COMMIT_NOTICE_MS = 3;

  /**
   * With Ratis's log-metadata entries off (decision 0014), nothing but the next append tells a
   * follower that the commit index moved, and an idle leader sends one only at the heartbeat
   * interval: followers would apply (and serve reads and watches) up to that much late. So when
   * this follower's known commit index is behind the leader's and no entries wait for it, a
   * heartbeat goes {@link #COMMIT_NOTICE_MS} after the follower's last answer unless an append went
   * meanwhile. Sending it at once instead cost a heartbeat per follower per write and doubled the
   * median of writes at concurrency 1 (docs/benchmarks.md). At most one per round trip, none to a
   * follower that stopped answering.
   */
  @Override
  public long getHeartbeatWaitTimeMs() {
    long wait = super.getHeartbeatWaitTimeMs();
    FollowerInfo follower = getFollower();
    if (wait <= 0
        || hasAppendEntries()
        || getRaftLog().getLastCommittedIndex() <= follower.getCommitIndex()
        || follower.getLastRpcResponseTime().compareTo(follower.getLastHeartbeatSendTime()) < 0) {
      return wait;
    }
    long sinceAnswer = follower.getLastRpcResponseTime().elapsedTimeMs();
    return Math.min(wait, Math.max(0, COMMIT_NOTICE_MS - sinceAnswer));
  }

  /** A signal that is not lost when it comes while the appender is busy (see WakeupSignal). */
  @Override
  public org.apache.ratis.util.AwaitForSignal getEventAwaitForSignal() {
    // Null only while Ratis's constructors run, before this appender starts.
    return wakeup != null ? wakeup : super.getEventAwaitForSignal();
  }

  @Override
  protected long getNextIndexForInconsistency(long requestFirstIndex, long replyNextIndex) {
    long match = getFollower().getMatchIndex();
    if (requestFirstIndex == RaftLog.INVALID_LOG_INDEX
        && replyNextIndex >= 0
        && replyNextIndex <= match) {
      long rewound = Math.max(RaftLog.INVALID_LOG_INDEX, replyNextIndex - 1);
      matchIndex.updateUnconditionally(old -> old == match ? rewound : old, ignored -> {});
      if (logged.add(getFollower().getName() + "@" + replyNextIndex)) {
        log.warn(
            "{}: follower {} lacks entries from index {} that it had acknowledged (match index"
                + " was {}): resending from {}",
            getServer().getMemberId(),
            getFollower().getName(),
            replyNextIndex,
            match,
            replyNextIndex);
      }
      return replyNextIndex;
    }
    return super.getNextIndexForInconsistency(requestFirstIndex, replyNextIndex);
  }
}
