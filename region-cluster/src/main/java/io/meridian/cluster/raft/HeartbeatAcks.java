package io.meridian.cluster.raft;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.LongSupplier;
import org.apache.ratis.proto.RaftProtos.AppendEntriesReplyProto;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.leader.FollowerInfo;
import org.apache.ratis.server.leader.LeaderState;
import org.apache.ratis.server.leader.LogAppender;
import org.apache.ratis.server.protocol.TermIndex;

/**
 * Confirms a leader's leadership with one round of append requests instead of a log entry: etcd's
 * ReadIndex. A read that arrives at time {@code t} while this member leads term {@code T} is
 * confirmed once a majority of voters (the leader among them) answered, in term {@code T}, an
 * append request (a heartbeat or entries) the leader created in {@code T} at or after {@code t}.
 * Every such answer shows that the follower had not moved to a newer term when it answered, so no
 * newer leader can have committed anything before {@code t}; a leader cut off from its followers
 * gets no answers and confirms nothing.
 *
 * <p>Only SUCCESS and INCONSISTENCY answers given in the request's term count. Ratis hands this
 * observer a follower's NOT_LEADER answer too, whenever its appender has stopped (a deposed leader
 * stops its appenders as it steps down): counted, those answers from followers of the newer term
 * confirmed a leader woken from a pause, which then answered from its stale state.
 *
 * <p>Ratis 3.3.0's own read index skips the round for a read at or below an index an earlier round
 * confirmed (decision 0012); this one always waits for answers to requests created after the read
 * arrived. It sees the requests and answers by standing between each {@link ResyncingLogAppender}
 * and the leader state Ratis gives it ({@link #observe}).
 *
 * <p>One instance per Raft group member ({@link #of}), shared by its appenders and its replica.
 */
public final class HeartbeatAcks {
  private static final ConcurrentMap<RaftGroupMemberId, HeartbeatAcks> BY_MEMBER =
      new ConcurrentHashMap<>();

  /** Requests remembered per appender while unanswered; beyond it, the oldest are forgotten. */
  private static final int MAX_UNANSWERED = 1024;

  private final LongSupplier nanoTime;
  // Follower -> the newest request it answered in the term the request was made in.
  private final ConcurrentMap<RaftPeerId, Sent> answered = new ConcurrentHashMap<>();
  // Follower -> its current appender, to trigger a heartbeat for a waiting read.
  private final ConcurrentMap<RaftPeerId, LogAppender> appenders = new ConcurrentHashMap<>();
  // Guarded by this.
  private final List<Waiting> waiting = new ArrayList<>();
  private volatile long lastTriggered = Long.MIN_VALUE;

  private record Waiting(
      long term, long since, Set<RaftPeerId> voters, CompletableFuture<Void> confirmed) {}

  /** An append request: the leader's term in it, and when it was created. */
  record Sent(long term, long createdAt) {
    /** The newer of two answered requests: a newer term, or the later one within a term. */
    static Sent newer(Sent a, Sent b) {
      if (a.term != b.term) {
        return a.term > b.term ? a : b;
      }
      return b.createdAt - a.createdAt > 0 ? b : a;
    }
  }

  HeartbeatAcks(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** The instance of the Raft group member {@code id}, created on first use. */
  public static HeartbeatAcks of(RaftGroupMemberId id) {
    return BY_MEMBER.computeIfAbsent(id, k -> new HeartbeatAcks(System::nanoTime));
  }

  /** Drops the instance of {@code id} (the replica closed). */
  public static void forget(RaftGroupMemberId id) {
    BY_MEMBER.remove(id);
  }

  /** The clock requests are timed with: what {@link #confirm} compares against. */
  public long now() {
    return nanoTime.getAsLong();
  }

  /**
   * Completes once a majority of {@code voters} (which include {@code self}, the leader) answered,
   * in {@code term}, a request of {@code term} created at or after {@code since}; triggers a
   * heartbeat to every follower unless one was triggered since then. Never times out by itself;
   * {@link #lost} fails it.
   */
  public CompletableFuture<Void> confirm(
      long term, long since, Set<RaftPeerId> voters, RaftPeerId self) {
    Waiting w = new Waiting(term, since, voters, new CompletableFuture<>());
    if (confirmed(w, self)) {
      return CompletableFuture.completedFuture(null);
    }
    synchronized (this) {
      // Reads that timed out while no answer came (a cut-off leader) leave here, not only on the
      // next answer.
      waiting.removeIf(old -> old.confirmed().isDone());
      waiting.add(w);
    }
    // A request created after this call answers for this read too.
    if (lastTriggered < since) {
      lastTriggered = now();
      appenders.values().forEach(LogAppender::triggerHeartbeat);
    }
    // An answer may have come between the first check and the registration.
    answeredBy(self);
    return w.confirmed();
  }

  private boolean confirmed(Waiting w, RaftPeerId self) {
    int acks = 0;
    for (RaftPeerId voter : w.voters()) {
      if (voter.equals(self)) {
        acks++;
      } else {
        Sent at = answered.get(voter);
        if (at != null && at.term() == w.term() && at.createdAt() - w.since() >= 0) {
          acks++;
        }
      }
    }
    return acks > w.voters().size() / 2;
  }

  private void answeredBy(RaftPeerId self) {
    List<Waiting> done = new ArrayList<>();
    synchronized (this) {
      waiting.removeIf(
          w -> {
            if (w.confirmed().isDone() || confirmed(w, self)) {
              done.add(w);
              return true;
            }
            return false;
          });
    }
    done.forEach(w -> w.confirmed().complete(null));
  }

  /**
   * This member no longer leads: every waiting read fails (its term can no longer be confirmed), to
   * be retried where the new leader is.
   */
  public void lost(Throwable why) {
    List<Waiting> failed;
    synchronized (this) {
      failed = new ArrayList<>(waiting);
      waiting.clear();
    }
    failed.forEach(w -> w.confirmed().completeExceptionally(why));
  }

  /** Reads waiting for a round (tests, metrics). */
  public synchronized int waiting() {
    return waiting.size();
  }

  /**
   * {@code delegate}, with the requests created for {@code follower} and its in-term answers
   * recorded here. One per appender: call ids restart with each appender.
   */
  LeaderState observe(LeaderState delegate, RaftPeerId follower, RaftPeerId self) {
    ConcurrentSkipListMap<Long, Sent> unanswered = new ConcurrentSkipListMap<>();
    return new LeaderState() {
      @Override
      public void restart(LogAppender appender) {
        delegate.restart(appender);
      }

      @Override
      public AppendEntriesRequestProto newAppendEntriesRequestProto(
          FollowerInfo info, List<LogEntryProto> entries, TermIndex previous, long callId) {
        // Timed before it is made: a request counts for reads that arrived before it.
        long createdAt = now();
        AppendEntriesRequestProto request =
            delegate.newAppendEntriesRequestProto(info, entries, previous, callId);
        unanswered.put(callId, new Sent(request.getLeaderTerm(), createdAt));
        while (unanswered.size() > MAX_UNANSWERED) {
          unanswered.pollFirstEntry();
        }
        return request;
      }

      @Override
      public void checkHealth(FollowerInfo info) {
        delegate.checkHealth(info);
      }

      @Override
      public boolean onFollowerTerm(FollowerInfo info, long followerTerm) {
        return delegate.onFollowerTerm(info, followerTerm);
      }

      @Override
      public void onFollowerCommitIndex(FollowerInfo info, long commitIndex) {
        delegate.onFollowerCommitIndex(info, commitIndex);
      }

      @Override
      public void onFollowerSuccessAppendEntries(FollowerInfo info) {
        delegate.onFollowerSuccessAppendEntries(info);
      }

      @Override
      public boolean isFollowerBootstrapping(FollowerInfo info) {
        return delegate.isFollowerBootstrapping(info);
      }

      @Override
      public void onAppendEntriesReply(LogAppender appender, AppendEntriesReplyProto reply) {
        delegate.onAppendEntriesReply(appender, reply);
        long callId = reply.getServerReply().getCallId();
        Sent sent = unanswered.remove(callId);
        unanswered.headMap(callId).clear();
        if (sent != null && givenIn(sent.term(), reply)) {
          answered.merge(follower, sent, Sent::newer);
          answeredBy(self);
        }
      }
    };
  }

  /**
   * Whether {@code reply} was given in {@code term}: SUCCESS or INCONSISTENCY from a follower still
   * in it. A NOT_LEADER answer comes from a follower of a newer term.
   */
  static boolean givenIn(long term, AppendEntriesReplyProto reply) {
    return reply.getResult() != AppendEntriesReplyProto.AppendResult.NOT_LEADER
        && reply.getTerm() == term;
  }

  /** {@code appender} now replicates to {@code follower}. */
  void register(RaftPeerId follower, LogAppender appender) {
    appenders.put(follower, appender);
  }

  /** For tests: what each follower answered. */
  Map<RaftPeerId, Sent> answered() {
    return Map.copyOf(answered);
  }
}
